output "layer_ids" {
  description = "Import ids (<workbench>/<schema>/<layer>) of the four layers."
  value = {
    bronze   = ipai_medallion_layer.bronze.id
    silver   = ipai_medallion_layer.silver.id
    gold     = ipai_medallion_layer.gold.id
    platinum = ipai_medallion_layer.platinum.id
  }
}
