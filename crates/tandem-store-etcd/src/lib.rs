//! # tandem-store-etcd (in progress)
