//! The transforms a pipeline may name, by MMAction2 0.24's names, one file per family:
//! sampling, decoding, geometry (and its crops), colour, formatting.

pub mod colour;
pub mod crops;
pub mod decoding;
pub mod formatting;
pub mod geometry;
pub mod sampling;

use serde::de::DeserializeOwned;
use weft_config::{Config, ConfigError, ErrorKind, Node, Value, unknown_name_error};

use super::ann::Layout;
use super::pipeline::Transform;

/// Every transform type a pipeline may name.
pub const TRANSFORM_TYPES: [&str; 26] = [
    "SampleFrames",
    "DenseSampleFrames",
    "RawFrameDecode",
    "DecordInit",
    "DecordDecode",
    "PyAVInit",
    "PyAVDecode",
    "OpenCVInit",
    "OpenCVDecode",
    "Resize",
    "RandomCrop",
    "RandomResizedCrop",
    "MultiScaleCrop",
    "CenterCrop",
    "ThreeCrop",
    "TenCrop",
    "Flip",
    "ColorJitter",
    "Normalize",
    "FormatShape",
    "Collect",
    "ToTensor",
    "Fuse",
    // Listed so that a config naming them gets the reason rather than "unknown".
    "UntrimmedSampleFrames",
    "ImageToTensor",
    "PyAVDecodeMotionVector",
];

/// MMAction2 transforms weft knows of and does not run, with the reason.
fn refused(name: &str) -> Option<&'static str> {
    Some(match name {
        "UntrimmedSampleFrames" => {
            "it samples untrimmed videos for localization, which weft does not train"
        }
        "ImageToTensor" => "it is for image (not clip) inputs; use FormatShape",
        "PyAVDecodeMotionVector" => "motion vectors are not decoded by weft",
        _ => return None,
    })
}

/// Builds one transform from its config table, checking its arguments; errors point at the
/// table's keys.
pub fn build(node: &Node, cfg: &Config, layout: Layout) -> Result<Box<dyn Transform>, ConfigError> {
    let Some(table) = node.as_table() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "a pipeline entry must be a table with a `type`",
            &node.origin,
        ));
    };
    let Some(ty) = table.get("type") else {
        return Err(cfg
            .error_at(
                ErrorKind::MissingKey,
                "this transform has no `type`",
                &node.origin,
            )
            .with_help(format!("one of: {}", TRANSFORM_TYPES.join(", "))));
    };
    let name = ty.as_str().unwrap_or_default();
    let Some(&name) = TRANSFORM_TYPES.iter().find(|t| **t == name) else {
        return Err(unknown_name_error("transform", name, TRANSFORM_TYPES)
            .with_location(cfg.sources().locate(&ty.origin)));
    };
    let bad = |m: String| cfg.error_at(ErrorKind::InvalidValue, m, &node.origin);
    if let Some(why) = refused(name) {
        return Err(bad(format!("{name} is not supported: {why}")));
    }
    let mut rest = table.clone();
    rest.shift_remove("type");
    let args = Node {
        value: Value::Table(rest),
        origin: node.origin.clone(),
        key_origin: node.key_origin.clone(),
    };
    let video = layout == Layout::Videos;
    match name {
        "RawFrameDecode" if video => {
            return Err(bad(
                "RawFrameDecode reads frame directories; a VideoDataset decodes with \
                 DecordInit + DecordDecode (or PyAV*/OpenCV*)"
                    .into(),
            ));
        }
        n if !video && (n.ends_with("Init") || n.ends_with("Decode")) && n != "RawFrameDecode" => {
            return Err(bad(format!(
                "{n} reads video files; a RawframeDataset decodes with RawFrameDecode"
            )));
        }
        _ => {}
    }
    fn read<T: DeserializeOwned>(cfg: &Config, args: &Node) -> Result<T, ConfigError> {
        cfg.read(args)
    }
    let built: Result<Box<dyn Transform>, String> = match name {
        "SampleFrames" => {
            let t: sampling::SampleFrames = read(cfg, &args)?;
            t.validate().map(|()| Box::new(t) as Box<dyn Transform>)
        }
        "DenseSampleFrames" => {
            let t: sampling::DenseSampleFrames = read(cfg, &args)?;
            t.validate().map(|()| Box::new(t) as Box<dyn Transform>)
        }
        "RawFrameDecode" => {
            let t: decoding::RawFrameDecode = read(cfg, &args)?;
            t.validate().map(|()| Box::new(t) as Box<dyn Transform>)
        }
        "DecordInit" | "PyAVInit" | "OpenCVInit" => read::<decoding::VideoInit>(cfg, &args)?
            .named(name)
            .map(|t| Box::new(t) as Box<dyn Transform>),
        "DecordDecode" | "PyAVDecode" | "OpenCVDecode" => {
            read::<decoding::VideoDecode>(cfg, &args)?
                .named(name)
                .map(|t| Box::new(t) as Box<dyn Transform>)
        }
        "Resize" => boxed(read::<geometry::Resize>(cfg, &args)?.validate()),
        "RandomCrop" => boxed(read::<crops::RandomCrop>(cfg, &args)?.validate()),
        "RandomResizedCrop" => boxed(read::<crops::RandomResizedCrop>(cfg, &args)?.validate()),
        "MultiScaleCrop" => boxed(read::<crops::MultiScaleCrop>(cfg, &args)?.validate()),
        "CenterCrop" => boxed(read::<crops::CenterCrop>(cfg, &args)?.validate()),
        "ThreeCrop" => boxed(read::<crops::MultiCrop>(cfg, &args)?.validate(false)),
        "TenCrop" => boxed(read::<crops::MultiCrop>(cfg, &args)?.validate(true)),
        "Flip" => boxed(read::<geometry::Flip>(cfg, &args)?.validate()),
        "ColorJitter" => boxed(read::<colour::ColorJitter>(cfg, &args)?.validate()),
        "Normalize" => boxed(read::<colour::Normalize>(cfg, &args)?.validate()),
        "FormatShape" => boxed(read::<formatting::FormatShape>(cfg, &args)?.validate()),
        "Collect" | "ToTensor" => boxed(read::<formatting::Collect>(cfg, &args)?.named(name)),
        "Fuse" => boxed(Ok(read::<formatting::Fuse>(cfg, &args)?)),
        _ => unreachable!("every name in TRANSFORM_TYPES is built or refused above"),
    };
    built.map_err(|m| bad(format!("{name}: {m}")))
}

fn boxed<T: Transform + 'static>(t: Result<T, String>) -> Result<Box<dyn Transform>, String> {
    t.map(|t| Box::new(t) as Box<dyn Transform>)
}
