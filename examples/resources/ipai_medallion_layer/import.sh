# A layer is imported by <workbench>/<schema>/<layer>; its tables are read from the catalog.
# With the layer's summary file under output_dir (written by every apply) the import knows
# the spec the layer was made from, and learns what PostgreSQL makes of its expressions by
# creating them again in a transaction it rolls back: it changes nothing, takes the layer's
# tables' locks for a moment (giving way after 3 s if another session holds one), and a hand
# edit made before the import (a policy loosened to USING (true)) is drift in the next plan.
# Without the summary the catalog is the spec.
terraform import ipai_medallion_layer.silver insightpulse/scout/silver
