//! `/agen` command grammar (placeholder: being written).
