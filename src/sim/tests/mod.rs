//! Tests that drive the simulator over real HTTP.
