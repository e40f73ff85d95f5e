//! (bundle::pack — being written)
