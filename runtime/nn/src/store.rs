//! Parameters, buffers and the module table of a model, in PyTorch's order and naming.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use tch::{Device, Kind, Tensor};

/// A module of the model as the optimizer constructors see it (MMCV's `add_params` walks the
/// module tree; plugins receive this table).
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleInfo {
    /// Dotted path (`""` for the root, `backbone.conv`).
    pub path: String,
    /// PyTorch class name (`Conv2d`, `BatchNorm2d`, `Linear`; `Module` for containers).
    pub kind: String,
    /// Constructor attributes (`in_channels`, `groups`, ...).
    pub attrs: Map<String, Value>,
}

/// A parameter: a leaf tensor on the model's device.
#[derive(Debug)]
pub struct Param {
    /// Qualified name (`conv1.weight`).
    pub name: String,
    /// The tensor (requires grad when trainable).
    pub tensor: Tensor,
    /// Whether it is trained (`requires_grad`).
    pub requires_grad: bool,
    /// Index of its module in [`ParamStore::modules`].
    pub module: usize,
    /// Registration order (constructors visit a module's entries in this order).
    seq: usize,
}

/// A second name for a parameter of another module (PyTorch's `b.weight = a.weight`).
#[derive(Debug, Clone)]
pub struct Alias {
    /// The alias's qualified name (`b.weight`).
    pub name: String,
    /// Its module.
    pub module: usize,
    /// Index in [`ParamStore::params`] of the shared parameter (after [`ParamStore::finish`]).
    pub target: usize,
    target_name: String,
    seq: usize,
}

/// A non-trainable tensor saved with the model (BatchNorm running statistics).
#[derive(Debug)]
pub struct Buffer {
    /// Qualified name (`bn1.running_mean`).
    pub name: String,
    /// The tensor.
    pub tensor: Tensor,
    /// Index of its module.
    pub module: usize,
}

/// Everything a model owns, in PyTorch's `named_parameters()` / `state_dict()` order once
/// [`ParamStore::finish`] has run.
#[derive(Debug)]
pub struct ParamStore {
    device: Device,
    modules: Vec<ModuleInfo>,
    params: Vec<Param>,
    buffers: Vec<Buffer>,
    aliases: Vec<Alias>,
    next_seq: usize,
}

impl ParamStore {
    /// An empty store; tensors are created on the CPU (so initial values do not depend on the
    /// device) and moved to `device`.
    pub fn new(device: Device) -> ParamStore {
        ParamStore {
            device,
            modules: vec![ModuleInfo {
                path: String::new(),
                kind: "Module".into(),
                attrs: Map::new(),
            }],
            params: Vec::new(),
            buffers: Vec::new(),
            aliases: Vec::new(),
            next_seq: 0,
        }
    }

    /// The device.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Declares a module (its parents are created as plain containers when missing).
    pub fn module(&mut self, path: &str, kind: &str, attrs: Map<String, Value>) -> usize {
        if let Some(parent) = path.rsplit_once('.').map(|(p, _)| p) {
            if self.find_module(parent).is_none() {
                self.module(parent, "Module", Map::new());
            }
        } else if !path.is_empty() && self.find_module("").is_none() {
            self.module("", "Module", Map::new());
        }
        match self.find_module(path) {
            Some(i) => {
                let m = &mut self.modules[i];
                if m.kind == "Module" {
                    m.kind = kind.to_string();
                    m.attrs = attrs;
                }
                i
            }
            None => {
                self.modules.push(ModuleInfo {
                    path: path.to_string(),
                    kind: kind.to_string(),
                    attrs,
                });
                self.modules.len() - 1
            }
        }
    }

    fn find_module(&self, path: &str) -> Option<usize> {
        self.modules.iter().position(|m| m.path == path)
    }

    /// Adds a parameter to a module from an initial CPU tensor; returns the device tensor
    /// (a shallow clone shares storage with the store's copy).
    pub fn param(
        &mut self,
        module: usize,
        local: &str,
        init: Tensor,
        requires_grad: bool,
    ) -> Result<Tensor, tch::TchError> {
        let tensor = init
            .f_to_device(self.device)?
            .f_detach()?
            .f_set_requires_grad(requires_grad)?;
        let handle = tensor.shallow_clone();
        self.adopt_param(module, local, tensor);
        Ok(handle)
    }

    /// Adds a buffer to a module.
    pub fn buffer(
        &mut self,
        module: usize,
        local: &str,
        init: Tensor,
    ) -> Result<Tensor, tch::TchError> {
        let tensor = init.f_to_device(self.device)?;
        let handle = tensor.shallow_clone();
        self.adopt_buffer(module, local, tensor);
        Ok(handle)
    }

    /// Adds a parameter that already exists elsewhere (a TorchScript module's): the store
    /// holds a handle to the same tensor, so gradients and the optimizer's steps reach it.
    pub fn adopt_param(&mut self, module: usize, local: &str, tensor: Tensor) {
        let name = qualified(&self.modules[module].path, local);
        let requires_grad = tensor.requires_grad();
        self.params.push(Param {
            name,
            tensor,
            requires_grad,
            module,
            seq: self.next_seq,
        });
        self.next_seq += 1;
    }

    /// Adds a buffer that already exists elsewhere, as [`ParamStore::adopt_param`].
    pub fn adopt_buffer(&mut self, module: usize, local: &str, tensor: Tensor) {
        let name = qualified(&self.modules[module].path, local);
        self.buffers.push(Buffer {
            name,
            tensor,
            module,
        });
    }

    /// Stops training a parameter (`requires_grad = false`); false if there is no such name.
    pub fn freeze(&mut self, name: &str) -> bool {
        let Some(p) = self.params.iter_mut().find(|p| p.name == name) else {
            return false;
        };
        if let Ok(t) = p.tensor.f_set_requires_grad(false) {
            p.tensor = t;
        }
        p.requires_grad = false;
        true
    }

    /// Makes parameter `name` an alias of `target` (`b.weight = a.weight` in PyTorch): the
    /// own tensor of `name` is dropped and `target`'s tensor is returned for the layer to use.
    pub fn tie(&mut self, name: &str, target: &str) -> Result<Tensor, String> {
        let t = self
            .params
            .iter()
            .position(|p| p.name == target)
            .ok_or_else(|| format!("`{target}` is not a parameter of this model"))?;
        let i = self
            .params
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| format!("`{name}` is not a parameter of this model"))?;
        if self.params[i].tensor.size() != self.params[t].tensor.size() {
            return Err(format!(
                "`{name}` {:?} and `{target}` {:?} have different shapes",
                self.params[i].tensor.size(),
                self.params[t].tensor.size()
            ));
        }
        let own = self.params.remove(i);
        let handle = self
            .params
            .iter()
            .find(|p| p.name == target)
            .map(|p| p.tensor.shallow_clone());
        self.aliases.push(Alias {
            name: own.name,
            module: own.module,
            target: 0,
            target_name: target.to_string(),
            seq: own.seq,
        });
        handle.ok_or_else(|| format!("`{target}` disappeared"))
    }

    /// The constructors' table: modules in `model.modules()` order and parameter entries in
    /// `add_params` order (aliases included), plus the store index of each non-alias entry.
    pub fn table(&self) -> (weft_core::paramwise::ModelTable, Vec<Option<usize>>) {
        use weft_core::paramwise::{ModelTable, ModuleMeta, ParamMeta};
        let rank = self.module_ranks();
        let mut order: Vec<usize> = (0..self.modules.len()).collect();
        order.sort_by_key(|m| rank[*m]);
        let position: Vec<usize> = {
            let mut p = vec![0; self.modules.len()];
            for (pos, m) in order.iter().enumerate() {
                p[*m] = pos;
            }
            p
        };
        let modules = order
            .iter()
            .map(|&m| {
                let info = &self.modules[m];
                let int = |k: &str| info.attrs.get(k).and_then(Value::as_i64);
                let prefix = format!("{}.", info.path);
                let is_leaf = !self.modules.iter().any(|o| {
                    o.path != info.path && (info.path.is_empty() || o.path.starts_with(&prefix))
                });
                ModuleMeta {
                    path: info.path.clone(),
                    kind: info.kind.clone(),
                    in_channels: int("in_channels"),
                    groups: int("groups"),
                    is_dcn: info.kind.contains("DeformConv"),
                    is_leaf,
                    attrs: info.attrs.clone(),
                }
            })
            .collect();
        // Entries per module in registration order; modules in DFS order.
        enum Entry {
            Own(usize),
            Alias(usize),
        }
        let mut entries: Vec<(usize, usize, Entry)> = Vec::new();
        for (i, p) in self.params.iter().enumerate() {
            entries.push((rank[p.module], p.seq, Entry::Own(i)));
        }
        for (a, alias) in self.aliases.iter().enumerate() {
            entries.push((rank[alias.module], alias.seq, Entry::Alias(a)));
        }
        entries.sort_by_key(|e| (e.0, e.1));
        let mut params = Vec::new();
        let mut store_index = Vec::new();
        // The first entry of a tensor owns it; later entries (aliases, or the owner visited
        // after an alias) point back at it, as MMCV's duplicate check sees them.
        let mut first: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        for (_, _, e) in entries {
            let (name, module, tensor) = match e {
                Entry::Own(i) => (&self.params[i].name, self.params[i].module, i),
                Entry::Alias(a) => (
                    &self.aliases[a].name,
                    self.aliases[a].module,
                    self.aliases[a].target,
                ),
            };
            let k = params.len();
            let alias_of = first.get(&tensor).copied();
            if alias_of.is_none() {
                first.insert(tensor, k);
            }
            params.push(ParamMeta {
                local: name.rsplit('.').next().unwrap_or(name).to_string(),
                module: position[module],
                requires_grad: self.params[tensor].requires_grad,
                alias_of,
                shape: self.params[tensor].tensor.size(),
            });
            store_index.push(alias_of.is_none().then_some(tensor));
        }
        (ModelTable { modules, params }, store_index)
    }

    /// Sorts parameters and buffers into PyTorch's order: depth-first over the module tree
    /// (children in registration order), a module's own entries before its children's.
    pub fn finish(&mut self) {
        let rank = self.module_ranks();
        let key = |module: usize| rank[module];
        // Stable sorts keep each module's own registration order.
        self.params.sort_by_key(|p| (key(p.module), p.seq));
        self.buffers.sort_by_key(|b| key(b.module));
        for alias in &mut self.aliases {
            alias.target = self
                .params
                .iter()
                .position(|p| p.name == alias.target_name)
                .expect("tie() checked the target exists");
        }
    }

    fn module_ranks(&self) -> Vec<usize> {
        let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, m) in self.modules.iter().enumerate().skip(1) {
            let parent_path = m.path.rsplit_once('.').map_or("", |(p, _)| p);
            let parent = self.find_module(parent_path).unwrap_or(0);
            children.entry(parent).or_default().push(i);
        }
        let mut rank = vec![0; self.modules.len()];
        let mut next = 0;
        let mut stack = vec![0usize];
        while let Some(m) = stack.pop() {
            rank[m] = next;
            next += 1;
            if let Some(c) = children.get(&m) {
                stack.extend(c.iter().rev());
            }
        }
        rank
    }

    /// Parameters in `named_parameters()` order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Buffers in `named_buffers()` order.
    pub fn buffers(&self) -> &[Buffer] {
        &self.buffers
    }

    /// The module table.
    pub fn modules(&self) -> &[ModuleInfo] {
        &self.modules
    }

    /// Parameters then buffers per module, as PyTorch's `state_dict()` orders them.
    pub fn state_dict(&self) -> Vec<(&str, &Tensor)> {
        let rank = self.module_ranks();
        let mut entries: Vec<(usize, u8, usize, &str, &Tensor)> = Vec::new();
        for (i, p) in self.params.iter().enumerate() {
            entries.push((rank[p.module], 0, i, &p.name, &p.tensor));
        }
        for (i, b) in self.buffers.iter().enumerate() {
            entries.push((rank[b.module], 1, i, &b.name, &b.tensor));
        }
        entries.sort_by_key(|e| (e.0, e.1, e.2));
        entries.into_iter().map(|e| (e.3, e.4)).collect()
    }

    /// Total number of trainable scalars.
    pub fn num_trainable(&self) -> i64 {
        self.params
            .iter()
            .filter(|p| p.requires_grad)
            .map(|p| p.tensor.numel() as i64)
            .sum()
    }
}

fn qualified(path: &str, local: &str) -> String {
    if path.is_empty() {
        local.to_string()
    } else {
        format!("{path}.{local}")
    }
}

/// Float32 CPU options for initial values.
pub const CPU_F32: (Kind, Device) = (Kind::Float, Device::Cpu);
