//! (bundle::audit — being written)
