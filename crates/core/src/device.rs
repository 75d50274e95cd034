//! Reading results back from the device: the one place a tensor becomes numbers on the host.
//!
//! Reads are asynchronous because WebGPU in a page cannot block; natively they resolve at once.
//! Read many values in one call (concatenate first): on a GPU each read is a round trip.

use burn::prelude::*;
use burn::tensor::Element;
use burn::tensor::kind::Basic;

use crate::error::Error;

/// The values of `tensor`, converted to `E`. `what` names them in the error (a lost GPU, a
/// failed buffer map).
pub async fn read<const D: usize, K: Basic, E: Element>(tensor: Tensor<D, K>, what: &str) -> Result<Vec<E>, Error> {
    let data = tensor.into_data_async().await.map_err(|e| Error::device_read(what, e))?;
    data.try_into_vec_as::<E>().map_err(|e| Error::new(format!("reading {what} as numbers failed: {e:?}")))
}

/// The first value of `tensor` (a loss, a mean).
pub async fn read_scalar<const D: usize, K: Basic>(tensor: Tensor<D, K>, what: &str) -> Result<f64, Error> {
    Ok(read::<D, K, f64>(tensor, what).await?.first().copied().unwrap_or(f64::NAN))
}
