//! Exponential moving average of the trainable weights (Polyak averaging): the averaged
//! weights are validated, checkpointed as the best epoch and kept at the end, while the
//! optimiser goes on stepping the raw ones. The average of a noisy trajectory sits nearer
//! the bottom of the valley than any single step, a cheap accuracy gain on small data.

use std::path::Path;

use candle_core::{Tensor, Var};

use crate::ModelError;
use crate::omics::OmicsNet;

/// The running average of a network's trainable weights.
pub struct WeightAverage {
    decay: f64,
    updates: u64,
    vars: Vec<Var>,
    average: Vec<Tensor>,
}

impl WeightAverage {
    /// Starts the average at the network's current weights. `decay` is the weight of the
    /// old average per step (e.g. 0.99: a horizon of about 100 steps).
    pub fn new(net: &OmicsNet, decay: f64) -> Result<Self, ModelError> {
        let vars = net.trainable_vars();
        let average = vars.iter().map(|v| v.as_tensor().detach().copy()).collect::<candle_core::Result<_>>()?;
        Ok(Self { decay, updates: 0, vars, average })
    }

    /// Folds the weights after an optimiser step into the average. Early on the decay is
    /// lowered to `(1 + n) / (10 + n)` so the start-up weights fade quickly.
    pub fn update(&mut self) -> Result<(), ModelError> {
        self.updates += 1;
        let n = self.updates as f64;
        let d = self.decay.min((1.0 + n) / (10.0 + n));
        for (avg, var) in self.average.iter_mut().zip(&self.vars) {
            *avg = (avg.affine(d, 0.0)? + var.as_tensor().detach().affine(1.0 - d, 0.0)?)?;
        }
        Ok(())
    }

    /// Swaps the averaged and the raw weights in the network (call again to swap back).
    pub fn swap(&mut self, net: &mut OmicsNet) -> Result<(), ModelError> {
        for (avg, var) in self.average.iter_mut().zip(&self.vars) {
            let raw = var.as_tensor().detach().copy()?;
            var.set(avg)?;
            *avg = raw;
        }
        net.refresh()
    }

    /// Restores the average from a file written by [`OmicsNet::save`] while it was
    /// swapped in (resume), keeping the network's own weights.
    pub fn load(&mut self, net: &mut OmicsNet, file: &Path) -> Result<(), ModelError> {
        let raw: Vec<Tensor> = self.vars.iter().map(|v| v.as_tensor().detach().copy()).collect::<candle_core::Result<_>>()?;
        net.load_weights(file)?;
        self.average = self.vars.iter().map(|v| v.as_tensor().detach().copy()).collect::<candle_core::Result<_>>()?;
        for (var, t) in self.vars.iter().zip(&raw) {
            var.set(t)?;
        }
        // Past the start-up phase: the resumed average keeps its full decay.
        self.updates = u64::MAX / 2;
        net.refresh()
    }
}
