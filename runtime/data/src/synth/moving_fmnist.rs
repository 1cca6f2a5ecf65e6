//! `weft data moving-fmnist`: Moving-Fashion-MNIST written in MMAction2's two layouts.
//!
//! ```text
//! OUT/rawframes/clip_000001/img_00001.jpg ...   grey JPEGs, `train_list_rawframes.txt`: `clip_000001 16 3`
//! OUT/videos/clip_000001.mp4                   H.264, `train_list_videos.txt`: `clip_000001.mp4 3`
//! OUT/meta.json, OUT/meta_{train,val}.jsonl    parameters, SHA-256 of the raw frames, each clip's draws
//! ```
//!
//! The raw frames equal the reference generator's (`gen_moving_fmnist.py`) bit for bit, and
//! `meta.json` carries its fields, so a data set made by either can be checked against the
//! other; only the encoded files differ (another JPEG encoder, libx264 through libavcodec).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::clip::{CLASS_NAMES, ClipShape, FLIP_LABEL_MAP, ITEM, clip_params, render};
use crate::codec::{jpeg, video};
use crate::error::DataError;
use crate::idx::{find_idx, read_idx};

/// Which layouts to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layouts {
    /// `rawframes/`: one grey JPEG per frame.
    pub rawframes: bool,
    /// `videos/`: one H.264 MP4 per clip.
    pub videos: bool,
}

impl Layouts {
    fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.videos {
            v.push("videos");
        }
        if self.rawframes {
            v.push("rawframes");
        }
        v
    }
}

/// How the videos are encoded (the reference generator's defaults: CRF 18, preset medium,
/// 16 fps; one keyframe per clip and no B-frames, so any frame decodes from the clip's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoEncoding {
    /// libx264's constant rate factor (0-51, lower is better).
    pub crf: u32,
    /// libx264's preset (`ultrafast` ... `veryslow`).
    pub preset: String,
    /// Frames per second written into the file.
    pub fps: u32,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct MovingFmnist {
    /// Clip shape and parameter ranges.
    pub shape: ClipShape,
    /// Train clips (items from Fashion-MNIST's train split).
    pub train: usize,
    /// Val clips (items from t10k).
    pub val: usize,
    /// The seed (below 2^32).
    pub seed: u64,
    /// Which layouts to write.
    pub layouts: Layouts,
    /// JPEG quality of the raw frames (1-100).
    pub jpeg_quality: u8,
    /// Video encoding settings.
    pub video: VideoEncoding,
    /// The folder holding Fashion-MNIST's IDX files.
    pub fmnist: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Replace a non-empty output folder.
    pub force: bool,
}

/// One split's summary, as `meta.json` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitSummary {
    /// `train` or `val`.
    pub name: &'static str,
    /// Clips written.
    pub clips: usize,
    /// SHA-256 over the SHA-256 of each clip's raw frames, in clip order.
    pub sha256_raw_frames: String,
    /// Clips per class.
    pub label_counts: Vec<usize>,
}

/// What a generation wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Train, then val.
    pub splits: Vec<SplitSummary>,
    /// Files and bytes per layout.
    pub sizes: Vec<(&'static str, usize, u64)>,
}

struct Split {
    name: &'static str,
    id: u64,
    images: Vec<u8>,
    garments: Vec<u8>,
    clips: usize,
    /// Global number of the split's first clip (train first, from 1).
    first: usize,
}

struct Done {
    label: usize,
    meta: String,
    digest: [u8; 32],
}

impl MovingFmnist {
    /// The reference generator's defaults.
    pub fn defaults(fmnist: PathBuf) -> MovingFmnist {
        MovingFmnist {
            shape: ClipShape {
                frames: 16,
                size: 64,
                max_items: 2,
                speed_min: 1,
                speed_max: 3,
                zoom: false,
            },
            train: 2000,
            val: 500,
            seed: 0,
            layouts: Layouts {
                rawframes: true,
                videos: true,
            },
            jpeg_quality: 95,
            video: VideoEncoding {
                crf: 18,
                preset: "medium".into(),
                fps: 16,
            },
            fmnist,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            force: false,
        }
    }

    /// Checks the settings' ranges (the reference generator's, plus what the encoders need).
    pub fn check(&self) -> Result<(), String> {
        let s = &self.shape;
        if s.size < ITEM {
            return Err(format!("--size must be at least {ITEM}, not {}", s.size));
        }
        if s.size > 4096 {
            return Err(format!("--size must be at most 4096, not {}", s.size));
        }
        if self.layouts.videos && s.size % 2 == 1 {
            return Err(format!(
                "--size must be even for videos (yuv420p halves the chroma planes), not {}",
                s.size
            ));
        }
        if s.frames == 0 || s.frames > 10_000 {
            return Err(format!("--frames must be 1-10000, not {}", s.frames));
        }
        if s.max_items == 0 || s.max_items > 64 {
            return Err(format!("--max-items must be 1-64, not {}", s.max_items));
        }
        if s.speed_min == 0 || s.speed_min > s.speed_max || s.speed_max > s.size {
            return Err(format!(
                "speeds must satisfy 1 <= --speed-min <= --speed-max <= --size, not {}..{}",
                s.speed_min, s.speed_max
            ));
        }
        if self.train.max(self.val) >= 1 << 28 {
            return Err("--train and --val must each be below 2^28".into());
        }
        if self.train + self.val > 999_999 {
            return Err("--train plus --val must be at most 999999 (six-digit clip names)".into());
        }
        if self.seed >= 1 << 32 {
            return Err(format!("--seed must be below 2^32, not {}", self.seed));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(format!(
                "--jpeg-quality must be 1-100, not {}",
                self.jpeg_quality
            ));
        }
        if self.video.crf > 51 {
            return Err(format!("--crf must be 0-51, not {}", self.video.crf));
        }
        if self.video.fps == 0 || self.video.fps > 1000 {
            return Err(format!("--fps must be 1-1000, not {}", self.video.fps));
        }
        if self.jobs == 0 || self.jobs > 256 {
            return Err(format!("--jobs must be 1-256, not {}", self.jobs));
        }
        Ok(())
    }

    /// Writes the data set into `out`; `progress(done, total)` is called as clips finish.
    pub fn generate(
        &self,
        out: &Path,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Generated, DataError> {
        self.check().map_err(|message| DataError::Format {
            path: out.display().to_string(),
            message,
        })?;
        prepare_out(out, self.force)?;
        let splits = [
            self.split("train", 0, "train", self.train, 1)?,
            self.split("val", 1, "t10k", self.val, self.train + 1)?,
        ];
        for layout in self.layouts.names() {
            create_dir(&out.join(layout))?;
        }
        let total = self.train + self.val;
        let results: Vec<Mutex<Vec<Option<Done>>>> = splits
            .iter()
            .map(|s| Mutex::new((0..s.clips).map(|_| None).collect()))
            .collect();
        let next = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<DataError>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.min(total.max(1)) {
                scope.spawn(|| {
                    loop {
                        let job = next.fetch_add(1, Ordering::Relaxed);
                        if job >= total || failed.load(Ordering::Relaxed) {
                            return;
                        }
                        let (which, index) = if job < self.train {
                            (0, job)
                        } else {
                            (1, job - self.train)
                        };
                        match self.clip(out, &splits[which], index) {
                            Ok(done) => {
                                results[which].lock().unwrap_or_else(|p| p.into_inner())[index] =
                                    Some(done);
                                let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
                                progress(n, total);
                            }
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                first_error
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .get_or_insert(e);
                                return;
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let mut summaries = Vec::new();
        for (split, rows) in splits.iter().zip(results) {
            let rows: Vec<Done> = rows
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .into_iter()
                .map(|r| r.expect("every clip of a split finished"))
                .collect();
            summaries.push(self.write_lists(out, split, &rows)?);
        }
        write_file(&out.join("meta.json"), self.meta(&summaries).as_bytes())?;
        let sizes = self
            .layouts
            .names()
            .into_iter()
            .map(|l| {
                let (files, bytes) = disk_usage(&out.join(l));
                (l, files, bytes)
            })
            .collect();
        Ok(Generated {
            splits: summaries,
            sizes,
        })
    }

    fn split(
        &self,
        name: &'static str,
        id: u64,
        prefix: &str,
        clips: usize,
        first: usize,
    ) -> Result<Split, DataError> {
        let images = read_idx(&find_idx(
            &self.fmnist,
            &format!("{prefix}-images-idx3-ubyte"),
        )?)?;
        let labels = read_idx(&find_idx(
            &self.fmnist,
            &format!("{prefix}-labels-idx1-ubyte"),
        )?)?;
        if images.dims.len() != 3 || images.dims[1..] != [ITEM, ITEM] {
            return Err(DataError::Format {
                path: self.fmnist.display().to_string(),
                message: format!(
                    "{prefix} images are {:?}, not N x {ITEM} x {ITEM}",
                    images.dims
                ),
            });
        }
        if labels.data.len() != images.dims[0] || labels.data.is_empty() {
            return Err(DataError::Format {
                path: self.fmnist.display().to_string(),
                message: format!("{prefix} labels do not match its images"),
            });
        }
        Ok(Split {
            name,
            id,
            images: images.data,
            garments: labels.data,
            clips,
            first,
        })
    }

    fn clip(&self, out: &Path, split: &Split, index: usize) -> Result<Done, DataError> {
        let sources = split.garments.len();
        let params = clip_params(self.seed, split.id, index as u64, sources, &self.shape);
        let frames = render(&params, &split.images, &self.shape);
        let name = format!("clip_{:06}", split.first + index);
        let side = self.shape.size;
        if self.layouts.rawframes {
            let dir = out.join("rawframes").join(&name);
            create_dir(&dir)?;
            for (t, frame) in frames.chunks(side * side).enumerate() {
                let bytes =
                    jpeg::encode_grey(frame, side, side, self.jpeg_quality).map_err(|message| {
                        DataError::Format {
                            path: dir.display().to_string(),
                            message,
                        }
                    })?;
                write_file(&dir.join(format!("img_{:05}.jpg", t + 1)), &bytes)?;
            }
        }
        if self.layouts.videos {
            let path = out.join("videos").join(format!("{name}.mp4"));
            video::write_grey_h264(&path, &frames, side, side, &self.video).map_err(|message| {
                DataError::Format {
                    path: path.display().to_string(),
                    message,
                }
            })?;
        }
        let items: Vec<String> = params
            .items
            .iter()
            .map(|it| {
                format!(
                    "{{\"src\": {}, \"x0\": {}, \"y0\": {}, \"v\": {}, \"garment\": {}}}",
                    it.src, it.x0, it.y0, it.v, split.garments[it.src]
                )
            })
            .collect();
        // The reference generator's `json.dumps` layout, so the two files compare equal.
        let meta = format!(
            "{{\"name\": \"{name}\", \"label\": {}, \"items\": [{}]}}",
            params.label,
            items.join(", ")
        );
        Ok(Done {
            label: params.label,
            meta,
            digest: Sha256::digest(&frames).into(),
        })
    }

    fn write_lists(
        &self,
        out: &Path,
        split: &Split,
        rows: &[Done],
    ) -> Result<SplitSummary, DataError> {
        let mut hash = Sha256::new();
        let mut counts = vec![0usize; self.shape.num_classes()];
        let mut meta = String::new();
        let mut videos = String::new();
        let mut rawframes = String::new();
        for (i, row) in rows.iter().enumerate() {
            hash.update(row.digest);
            counts[row.label] += 1;
            meta.push_str(&row.meta);
            meta.push('\n');
            let name = format!("clip_{:06}", split.first + i);
            videos.push_str(&format!("{name}.mp4 {}\n", row.label));
            rawframes.push_str(&format!("{name} {} {}\n", self.shape.frames, row.label));
        }
        write_file(
            &out.join(format!("meta_{}.jsonl", split.name)),
            meta.as_bytes(),
        )?;
        if self.layouts.videos {
            let list = out.join(format!("{}_list_videos.txt", split.name));
            write_file(&list, videos.as_bytes())?;
        }
        if self.layouts.rawframes {
            let list = out.join(format!("{}_list_rawframes.txt", split.name));
            write_file(&list, rawframes.as_bytes())?;
        }
        Ok(SplitSummary {
            name: split.name,
            clips: rows.len(),
            sha256_raw_frames: hex(&hash.finalize()),
            label_counts: counts,
        })
    }

    fn meta(&self, splits: &[SplitSummary]) -> String {
        let s = &self.shape;
        let flip: serde_json::Map<String, Value> = FLIP_LABEL_MAP
            .iter()
            .map(|(a, b)| (a.to_string(), json!(b)))
            .collect();
        let per_split: serde_json::Map<String, Value> = splits
            .iter()
            .map(|x| {
                (
                    x.name.to_string(),
                    json!({
                        "clips": x.clips,
                        "sha256_raw_frames": x.sha256_raw_frames,
                        "label_counts": x.label_counts,
                    }),
                )
            })
            .collect();
        let info = json!({
            "generator": "weft data moving-fmnist",
            "seed": self.seed,
            "frames": s.frames,
            "size": s.size,
            "max_items": s.max_items,
            "speed": [s.speed_min, s.speed_max],
            "num_classes": s.num_classes(),
            "classes": CLASS_NAMES[..s.num_classes()],
            "flip_label_map": flip,
            "layouts": self.layouts.names(),
            "encoder": "libavcodec",
            "codec": "libx264",
            "crf": self.video.crf,
            "preset": self.video.preset,
            "qscale": null,
            "fps": self.video.fps,
            "pix_fmt": "yuv420p",
            "jpeg_quality": self.jpeg_quality,
            "filename_tmpl": "img_{:05}.jpg",
            "rawframes_start_index": 1,
            "video_start_index": 0,
            "splits": per_split,
        });
        // `json.dump(info, f, indent=1)`'s layout.
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        serde::Serialize::serialize(&info, &mut ser).expect("a JSON value serializes");
        String::from_utf8(buf).expect("JSON is UTF-8")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io_error(path: &Path, e: std::io::Error) -> DataError {
    DataError::Format {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn create_dir(path: &Path) -> Result<(), DataError> {
    std::fs::create_dir_all(path).map_err(|e| io_error(path, e))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let mut f = std::fs::File::create(path).map_err(|e| io_error(path, e))?;
    f.write_all(bytes).map_err(|e| io_error(path, e))
}

/// An output folder must be new or empty, unless `force` says to replace it.
fn prepare_out(out: &Path, force: bool) -> Result<(), DataError> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(|e| io_error(out, e))?
            .next()
            .is_none();
        if !empty && !force {
            return Err(DataError::Format {
                path: out.display().to_string(),
                message: "exists and is not empty (pass --force to replace it)".into(),
            });
        }
        std::fs::remove_dir_all(out).map_err(|e| io_error(out, e))?;
    }
    create_dir(out)
}

fn disk_usage(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => {
                    files += 1;
                    bytes += m.len();
                }
                Err(_) => {}
            }
        }
    }
    (files, bytes)
}
