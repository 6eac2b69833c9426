//! `ipai`: the codegen CLI (render, validate, schema).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("ipai: no commands yet")
}
