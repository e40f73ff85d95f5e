//! Envelopes: policy checks of operations, protected files, budgets.
