# A layer is imported by <workbench>/<schema>/<layer>; its tables are read from the catalog.
terraform import ipai_medallion_layer.silver insightpulse/scout/silver
