//! Backends by name: what a run computes on (`Backend`, in its report), and what a link or the
//! page asks for (`BackendChoice`). Hosts turn a `Backend` into a burn `Device`; core names it
//! in reports and links (and a run's fingerprint covers its weights only on the CPU).

use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What a run computes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's CPU backend (natively, or in the page's wasm).
    Cpu,
    /// A GPU through wgpu natively (Vulkan, Metal, DX12): the CLI's GPU.
    Wgpu,
    /// WebGPU in a browser: the page's GPU.
    Webgpu,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Cpu, Backend::Wgpu, Backend::Webgpu];

    /// The name serde reads and writes: "cpu", "wgpu" or "webgpu".
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Wgpu => "wgpu",
            Backend::Webgpu => "webgpu",
        }
    }

    /// The backend of this exact name, if any.
    pub fn parse(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    pub fn is_cpu(self) -> bool {
        self == Backend::Cpu
    }

    /// What a link asks the page for to rerun a run of this backend: the CPU, or the page's GPU.
    pub fn in_page(self) -> BackendChoice {
        match self {
            Backend::Cpu => BackendChoice::Cpu,
            Backend::Wgpu | Backend::Webgpu => BackendChoice::Webgpu,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a link or the page asks for. "auto": the page measures both and takes the faster (the
/// CPU where there is no WebGPU adapter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    Auto,
    Webgpu,
    Cpu,
}

impl BackendChoice {
    /// In the order the page offers them.
    pub const ALL: [BackendChoice; 3] = [BackendChoice::Auto, BackendChoice::Webgpu, BackendChoice::Cpu];

    /// The name serde reads and writes: "auto", "webgpu" or "cpu".
    pub const fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Webgpu => "webgpu",
            BackendChoice::Cpu => "cpu",
        }
    }

    /// The choice of this exact name, if any.
    pub fn parse(name: &str) -> Option<BackendChoice> {
        BackendChoice::ALL.into_iter().find(|c| c.name() == name)
    }

    /// What a native host runs this choice on: the CPU, or wgpu for the page's GPU choices
    /// ("auto" and "webgpu").
    pub fn native(self) -> Backend {
        match self {
            BackendChoice::Cpu => Backend::Cpu,
            BackendChoice::Auto | BackendChoice::Webgpu => Backend::Wgpu,
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_serde_s_and_every_variant_is_listed() {
        for b in Backend::ALL {
            // A new variant fails to compile here until it is added to ALL (and this match).
            match b {
                Backend::Cpu | Backend::Wgpu | Backend::Webgpu => {}
            }
            assert_eq!(serde_json::to_value(b).unwrap(), serde_json::json!(b.name()));
            assert_eq!(serde_json::from_value::<Backend>(serde_json::json!(b.name())).unwrap(), b);
            assert_eq!(Backend::parse(b.name()), Some(b));
            assert_eq!(Backend::ALL.iter().filter(|x| **x == b).count(), 1);
        }
        for c in BackendChoice::ALL {
            match c {
                BackendChoice::Auto | BackendChoice::Webgpu | BackendChoice::Cpu => {}
            }
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.name()));
            assert_eq!(serde_json::from_value::<BackendChoice>(serde_json::json!(c.name())).unwrap(), c);
            assert_eq!(BackendChoice::parse(c.name()), Some(c));
            assert_eq!(BackendChoice::ALL.iter().filter(|x| **x == c).count(), 1);
        }
        assert_eq!((Backend::parse("gpu"), Backend::parse("CPU"), BackendChoice::parse("wgpu")), (None, None, None));
    }

    #[test]
    fn a_run_s_backend_and_a_link_s_choice_map_both_ways() {
        assert_eq!(Backend::ALL.map(Backend::in_page), [BackendChoice::Cpu, BackendChoice::Webgpu, BackendChoice::Webgpu]);
        assert_eq!(BackendChoice::ALL.map(BackendChoice::native), [Backend::Wgpu, Backend::Wgpu, Backend::Cpu]);
        assert!(Backend::Cpu.is_cpu() && !Backend::Wgpu.is_cpu() && !Backend::Webgpu.is_cpu());
    }
}
