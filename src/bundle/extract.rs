//! (bundle::extract — being written)
