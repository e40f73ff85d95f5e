//! (bundle::structure — being written)
