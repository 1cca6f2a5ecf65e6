//! Batches in a reproducible order, prepared ahead on worker threads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use crate::batch::Batch;
use crate::error::DataError;
use crate::sampler::{Shard, epoch_order};
use crate::{Dataset, Draw};

/// How a loader batches and prepares data.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderSettings {
    /// Samples per batch.
    pub batch_size: usize,
    /// Worker threads (0: batches are built on the calling thread).
    pub workers: usize,
    /// Shuffle each epoch (seeded by `seed` and the epoch).
    pub shuffle: bool,
    /// Drop the last incomplete batch.
    pub drop_last: bool,
    /// Batches prepared ahead per worker.
    pub prefetch: usize,
    /// Shuffle seed.
    pub seed: u64,
    /// Copy batches into page-locked memory for fast asynchronous transfer to a GPU.
    pub pin_memory: bool,
    /// This rank's share of every epoch (the whole epoch in a one-process run).
    pub shard: Shard,
}

struct Job {
    generation: u64,
    index: usize,
    indices: Vec<usize>,
    draw: Draw,
}

type Done = (u64, usize, Result<Batch, DataError>);

struct Pool {
    jobs: Option<Sender<Job>>,
    results: Receiver<Done>,
    handles: Vec<JoinHandle<()>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the job channel ends the workers' loops.
        self.jobs.take();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// Iterates a dataset in batches, epoch by epoch.
pub struct Loader {
    dataset: Arc<dyn Dataset>,
    settings: LoaderSettings,
    batches: Vec<Vec<usize>>,
    next_out: usize,
    next_sent: usize,
    generation: u64,
    epoch: u64,
    ready: BTreeMap<usize, Result<Batch, DataError>>,
    pool: Option<Pool>,
}

impl Loader {
    /// A loader; worker threads start here and live as long as the loader.
    pub fn new(dataset: Arc<dyn Dataset>, settings: LoaderSettings) -> Loader {
        let pool = (settings.workers > 0).then(|| {
            let (job_tx, job_rx) = bounded::<Job>(settings.workers * settings.prefetch.max(1));
            let (done_tx, done_rx) = unbounded::<Done>();
            let handles = (0..settings.workers)
                .map(|i| {
                    let jobs = job_rx.clone();
                    let done = done_tx.clone();
                    let dataset = dataset.clone();
                    let pin = settings.pin_memory;
                    std::thread::Builder::new()
                        .name(format!("weft-data-{i}"))
                        .spawn(move || {
                            for job in jobs {
                                let batch = prepare(dataset.as_ref(), &job.indices, job.draw, pin);
                                if done.send((job.generation, job.index, batch)).is_err() {
                                    break;
                                }
                            }
                        })
                        .expect("spawning a data worker thread")
                })
                .collect();
            Pool {
                jobs: Some(job_tx),
                results: done_rx,
                handles,
            }
        });
        Loader {
            dataset,
            settings,
            batches: Vec::new(),
            next_out: 0,
            next_sent: 0,
            generation: 0,
            epoch: 0,
            ready: BTreeMap::new(),
            pool,
        }
    }

    /// Batches per epoch.
    pub fn len(&self) -> usize {
        let n = self.settings.shard.len(self.dataset.len());
        let bs = self.settings.batch_size.max(1);
        if self.settings.drop_last {
            n / bs
        } else {
            n.div_ceil(bs)
        }
    }

    /// Whether an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    /// The settings.
    pub fn settings(&self) -> &LoaderSettings {
        &self.settings
    }

    /// Starts `epoch`, passing over its first `skip` batches without preparing them.
    pub fn start_epoch(&mut self, epoch: u64, skip: u64) {
        let order = self.settings.shard.take(epoch_order(
            self.dataset.len(),
            self.settings.seed,
            epoch,
            self.settings.shuffle,
        ));
        let bs = self.settings.batch_size.max(1);
        self.batches = order
            .chunks(bs)
            .filter(|c| !self.settings.drop_last || c.len() == bs)
            .map(<[usize]>::to_vec)
            .collect();
        self.generation += 1;
        self.epoch = epoch;
        self.ready.clear();
        self.next_out = (skip as usize).min(self.batches.len());
        self.next_sent = self.next_out;
    }

    fn draw(&self) -> Draw {
        Draw {
            seed: self.settings.seed,
            epoch: self.epoch,
        }
    }

    /// The next batch of the epoch, or `None` at its end.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, DataError> {
        if self.next_out >= self.batches.len() {
            return Ok(None);
        }
        let index = self.next_out;
        self.next_out += 1;
        let Some(pool) = &self.pool else {
            return prepare(
                self.dataset.as_ref(),
                &self.batches[index],
                self.draw(),
                self.settings.pin_memory,
            )
            .map(Some);
        };
        let capacity = self.settings.workers * self.settings.prefetch.max(1);
        let jobs = pool
            .jobs
            .as_ref()
            .expect("jobs channel is open while the loader lives");
        while self.next_sent < self.batches.len() && self.next_sent < index + capacity {
            let job = Job {
                generation: self.generation,
                index: self.next_sent,
                indices: self.batches[self.next_sent].clone(),
                draw: self.draw(),
            };
            jobs.send(job)
                .map_err(|_| DataError::Worker("job queue closed".into()))?;
            self.next_sent += 1;
        }
        loop {
            if let Some(batch) = self.ready.remove(&index) {
                return batch.map(Some);
            }
            let (generation, i, batch) = pool
                .results
                .recv()
                .map_err(|_| DataError::Worker("all workers exited".into()))?;
            if generation == self.generation {
                self.ready.insert(i, batch);
            }
        }
    }
}

fn prepare(
    dataset: &dyn Dataset,
    indices: &[usize],
    draw: Draw,
    pin: bool,
) -> Result<Batch, DataError> {
    let mut batch = dataset.collate(indices, draw)?;
    if pin {
        batch.inputs = batch.inputs.f_pin_memory(tch::Device::Cuda(0))?;
        batch.labels = batch.labels.f_pin_memory(tch::Device::Cuda(0))?;
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnist::{ImageClassification, Normalize};

    fn tiny(n: usize) -> Arc<dyn Dataset> {
        let images: Vec<u8> = (0..n * 4).map(|i| i as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
        Arc::new(ImageClassification::new(
            "tiny".into(),
            images,
            labels,
            2,
            2,
            3,
            Normalize {
                mean: 0.0,
                std: 1.0,
            },
        ))
    }

    fn labels_of(loader: &mut Loader) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(b) = loader.next_batch().unwrap() {
            out.extend(Vec::<i64>::try_from(&b.labels).unwrap());
        }
        out
    }

    fn settings(workers: usize) -> LoaderSettings {
        LoaderSettings {
            batch_size: 3,
            workers,
            shuffle: true,
            drop_last: false,
            prefetch: 2,
            seed: 1,
            pin_memory: false,
            shard: Shard::default(),
        }
    }

    #[test]
    fn workers_yield_the_same_batches_in_order_as_the_calling_thread() {
        let mut sync = Loader::new(tiny(10), settings(0));
        let mut threaded = Loader::new(tiny(10), settings(2));
        assert_eq!(sync.len(), 4);
        for epoch in 0..3 {
            sync.start_epoch(epoch, 0);
            threaded.start_epoch(epoch, 0);
            assert_eq!(labels_of(&mut sync), labels_of(&mut threaded));
        }
    }

    /// Each sample's first pixel, which differs between samples of `tiny`.
    fn sample_ids(b: &Batch) -> Vec<i64> {
        let n = b.inputs.size()[0];
        let first = b.inputs.reshape([n, -1]).select(1, 0);
        Vec::<f32>::try_from(&first)
            .unwrap()
            .iter()
            .map(|v| (v * 1e4).round() as i64)
            .collect()
    }

    #[test]
    fn two_shards_of_batch_b_together_are_the_one_process_batches_of_2b() {
        let whole = |bs| {
            let mut l = Loader::new(
                tiny(12),
                LoaderSettings {
                    batch_size: bs,
                    ..settings(0)
                },
            );
            l.start_epoch(4, 0);
            let mut out = Vec::new();
            while let Some(b) = l.next_batch().unwrap() {
                let mut v = sample_ids(&b);
                v.sort();
                out.push(v);
            }
            out
        };
        let shard = |rank| {
            let mut l = Loader::new(
                tiny(12),
                LoaderSettings {
                    shard: Shard {
                        rank,
                        world_size: 2,
                    },
                    ..settings(1)
                },
            );
            assert_eq!(l.len(), 2);
            l.start_epoch(4, 0);
            let mut out = Vec::new();
            while let Some(b) = l.next_batch().unwrap() {
                out.push(sample_ids(&b));
            }
            out
        };
        let (r0, r1) = (shard(0), shard(1));
        let joined: Vec<Vec<i64>> = r0
            .iter()
            .zip(&r1)
            .map(|(a, b)| {
                let mut v: Vec<i64> = a.iter().chain(b).copied().collect();
                v.sort();
                v
            })
            .collect();
        assert_eq!(joined, whole(6));
    }

    #[test]
    fn skip_resumes_mid_epoch_and_drop_last_drops() {
        let mut full = Loader::new(tiny(10), settings(2));
        full.start_epoch(5, 0);
        let all = labels_of(&mut full);
        let mut resumed = Loader::new(tiny(10), settings(2));
        resumed.start_epoch(5, 2);
        assert_eq!(labels_of(&mut resumed), all[6..]);
        let mut dropping = Loader::new(
            tiny(10),
            LoaderSettings {
                drop_last: true,
                ..settings(0)
            },
        );
        assert_eq!(dropping.len(), 3);
        dropping.start_epoch(0, 0);
        assert_eq!(labels_of(&mut dropping).len(), 9);
    }
}
