//! The provider binary Terraform launches.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("This binary is a plugin for Terraform; it is not meant to be run directly.")
}
