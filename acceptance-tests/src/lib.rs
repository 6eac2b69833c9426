//! Test support: the terraform CLI harness, a throwaway PostgreSQL and the DigitalOcean
//! API simulator.

pub mod do_sim;
pub mod docs;
pub mod postgres;
pub mod terraform;
