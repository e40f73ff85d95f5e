//! (bundle::stream — being written)
