resource "ipai_medallion_layer" "silver" {
  workbench = ipai_workbench.main.name
  layer     = "silver"
  schema    = "scout"

  tables = [{
    name = "silver_validated_transactions"
    columns = [
      { name = "transaction_id", type = "text", nullable = false },
      { name = "tenant_id", type = "uuid", nullable = false },
      { name = "category", type = "text", nullable = false },
      { name = "amount", type = "numeric(12,2)", nullable = false },
      { name = "txn_date", type = "date", nullable = false },
    ]
    primary_key = ["transaction_id"]
    checks = [
      { name = "amount_positive", expression = "amount > 0" },
      { name = "date_not_future", expression = "txn_date <= current_date" },
    ]
  }]

  # Each tenant sees and writes only its rows (JWT claim tenant_id); the service role sees all.
  rls = {
    presets       = ["service_role_full_access", "authenticated_read_only", "tenant_isolation"]
    tenant_column = "tenant_id"
  }

  grants = [
    { role = "service_role", privileges = ["all"] },
    { role = "authenticated", privileges = ["select"] },
  ]
}
