//! GitHub simulator (placeholder: being written).
