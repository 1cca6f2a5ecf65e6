//! Video files through libavformat and libavcodec (Debian's FFmpeg 5.1; `ffmpeg-next`
//! supports 3.4 to 8.1): H.264 writing for generated data sets, and reading any codec
//! libavcodec knows for `VideoDataset`.
//!
//! Every decoder and encoder runs single-threaded: the data loader already runs one sample
//! per worker thread, and codec threads would only compete with them.

use std::path::Path;
use std::sync::Once;

use ff::format::Pixel;
use ff::software::scaling::{self, Flags};
use ff::util::frame::video::Video;
use ff::{Dictionary, Rational, codec, encoder, format, media};
use ffmpeg_next as ff;

use crate::Frame;
use crate::synth::VideoEncoding;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Registration cannot fail on FFmpeg 4 and later (it is a no-op there).
        let _ = ff::init();
        // libav's own messages would interleave with weft's log; every failure is returned
        // as an error naming the file instead.
        ff::log::set_level(ff::log::Level::Quiet);
    });
}

fn err(what: &str, e: ff::Error) -> String {
    format!("{what}: {e}")
}

/// Writes grey frames (`T × height × width` bytes) as an H.264 MP4 (yuv420p, one keyframe
/// for the whole clip, no B-frames), as the reference generator's PyAV encoder does.
pub fn write_grey_h264(
    path: &Path,
    frames: &[u8],
    width: usize,
    height: usize,
    settings: &VideoEncoding,
) -> Result<(), String> {
    init();
    let count = frames.len() / (width * height).max(1);
    let mut octx = format::output(path).map_err(|e| err("cannot create the file", e))?;
    let codec = encoder::find_by_name("libx264")
        .ok_or("this libavcodec has no libx264 encoder (install Debian's libavcodec59)")?;
    let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let rate = Rational(settings.fps as i32, 1);
    let time_base = Rational(1, settings.fps as i32);
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| err("libx264", e))?;
    enc.set_width(width as u32);
    enc.set_height(height as u32);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(time_base);
    enc.set_frame_rate(Some(rate));
    enc.set_gop(count.max(1) as u32);
    enc.set_max_b_frames(0);
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut options = Dictionary::new();
    options.set("crf", &settings.crf.to_string());
    options.set("preset", &settings.preset);
    options.set("threads", "1");
    let mut enc = enc
        .open_with(options)
        .map_err(|e| err("cannot open libx264 with these settings", e))?;
    {
        let mut stream = octx
            .add_stream(codec)
            .map_err(|e| err("cannot add a stream", e))?;
        stream.set_parameters(&enc);
        stream.set_time_base(time_base);
    }
    octx.write_header()
        .map_err(|e| err("cannot write the header", e))?;
    let stream_base = octx.stream(0).map_or(time_base, |s| s.time_base());
    // Grey to yuv420p through swscale, as PyAV's `reformat` does (limited-range luma,
    // neutral chroma).
    let mut scaler = scaling::Context::get(
        Pixel::GRAY8,
        width as u32,
        height as u32,
        Pixel::YUV420P,
        width as u32,
        height as u32,
        Flags::BILINEAR,
    )
    .map_err(|e| err("swscale", e))?;
    let mut grey = Video::new(Pixel::GRAY8, width as u32, height as u32);
    let mut yuv = Video::empty();
    let mut packet = ff::Packet::empty();
    let mut drain = |enc: &mut encoder::Video, octx: &mut format::context::Output| {
        while enc.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.rescale_ts(time_base, stream_base);
            packet
                .write_interleaved(octx)
                .map_err(|e| err("cannot write a packet", e))?;
        }
        Ok::<(), String>(())
    };
    for (t, pixels) in frames.chunks_exact(width * height).enumerate() {
        let stride = grey.stride(0);
        let plane = grey.data_mut(0);
        for (y, row) in pixels.chunks_exact(width).enumerate() {
            plane[y * stride..y * stride + width].copy_from_slice(row);
        }
        scaler.run(&grey, &mut yuv).map_err(|e| err("swscale", e))?;
        yuv.set_pts(Some(t as i64));
        enc.send_frame(&yuv)
            .map_err(|e| err("cannot encode a frame", e))?;
        drain(&mut enc, &mut octx)?;
    }
    enc.send_eof()
        .map_err(|e| err("cannot finish encoding", e))?;
    drain(&mut enc, &mut octx)?;
    octx.write_trailer()
        .map_err(|e| err("cannot write the trailer", e))
}

/// An open video file, read front to back.
pub struct VideoReader {
    input: format::context::Input,
    stream: usize,
    decoder: ff::decoder::Video,
    scaler: Option<scaling::Context>,
    frames: usize,
}

impl VideoReader {
    /// Opens a file and its best video stream, counting its frames.
    pub fn open(path: &Path) -> Result<VideoReader, String> {
        init();
        let mut input = format::input(path).map_err(|e| err("cannot open the video", e))?;
        let best = input
            .streams()
            .best(media::Type::Video)
            .ok_or("the file holds no video stream")?;
        let stream = best.index();
        let declared = best.frames();
        let mut context = codec::context::Context::from_parameters(best.parameters())
            .map_err(|e| err("unsupported video stream", e))?;
        context.set_threading(codec::threading::Config {
            kind: codec::threading::Type::None,
            count: 1,
            ..Default::default()
        });
        let decoder = context
            .decoder()
            .video()
            .map_err(|e| err("no decoder for this video", e))?;
        let frames = if declared > 0 {
            declared as usize
        } else {
            // Containers without a frame count: count the stream's packets once.
            let mut n = 0;
            let mut packet = ff::Packet::empty();
            while next_packet(&mut input, &mut packet)? {
                n += usize::from(packet.stream() == stream);
            }
            input
                .seek(0, ..)
                .map_err(|e| err("cannot rewind the video", e))?;
            n
        };
        Ok(VideoReader {
            input,
            stream,
            decoder,
            scaler: None,
            frames,
        })
    }

    /// Frames in the video (the container's count, as decord's `len()` gives it).
    pub fn len(&self) -> usize {
        self.frames
    }

    /// Whether the video has no frames.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Decodes from the start and returns the frames at `indices` (any order, repeats
    /// allowed) as RGB. A video that ends before an index is an error naming both.
    pub fn read(&mut self, indices: &[usize]) -> Result<Vec<Frame>, String> {
        let Some(&last) = indices.iter().max() else {
            return Ok(Vec::new());
        };
        let mut wanted: Vec<Option<Frame>> = vec![None; last + 1];
        let mut needed = vec![false; last + 1];
        for &i in indices {
            needed[i] = true;
        }
        let mut decoded = Video::empty();
        let mut next = 0usize;
        let mut eof = false;
        let mut packet = ff::Packet::empty();
        while next <= last {
            // Take every frame the decoder has ready before feeding it more.
            while next <= last && self.decoder.receive_frame(&mut decoded).is_ok() {
                if needed[next] {
                    wanted[next] = Some(to_rgb(&mut self.scaler, &decoded)?);
                }
                next += 1;
            }
            if next > last || eof {
                break;
            }
            if next_packet(&mut self.input, &mut packet)? {
                if packet.stream() == self.stream {
                    self.decoder
                        .send_packet(&packet)
                        .map_err(|e| err(&format!("cannot decode frame {next}"), e))?;
                }
            } else {
                self.decoder
                    .send_eof()
                    .map_err(|e| err("cannot finish decoding", e))?;
                eof = true;
            }
        }
        if next <= last {
            return Err(format!(
                "frame {last} was asked for but the video decodes to {next} frames (it declares {})",
                self.frames
            ));
        }
        Ok(indices
            .iter()
            .map(|&i| wanted[i].clone().expect("every wanted frame was decoded"))
            .collect())
    }
}

/// Reads the next packet: `false` at the end of the file. (ffmpeg-next's packet iterator
/// retries a failing read forever, which a truncated file would make it do.)
fn next_packet(
    input: &mut format::context::Input,
    packet: &mut ff::Packet,
) -> Result<bool, String> {
    match packet.read(input) {
        Ok(()) => Ok(true),
        Err(ff::Error::Eof) => Ok(false),
        Err(e) => Err(err("the video is damaged", e)),
    }
}

fn to_rgb(scaler: &mut Option<scaling::Context>, frame: &Video) -> Result<Frame, String> {
    let (w, h) = (frame.width(), frame.height());
    let stale = scaler.as_ref().is_none_or(|s| {
        s.input().width != w || s.input().height != h || s.input().format != frame.format()
    });
    if stale {
        *scaler = Some(
            scaling::Context::get(frame.format(), w, h, Pixel::RGB24, w, h, Flags::BILINEAR)
                .map_err(|e| err("swscale", e))?,
        );
    }
    let mut rgb = Video::empty();
    scaler
        .as_mut()
        .expect("made above")
        .run(frame, &mut rgb)
        .map_err(|e| err("swscale", e))?;
    let (w, h) = (w as usize, h as usize);
    let stride = rgb.stride(0);
    let plane = rgb.data(0);
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        data.extend_from_slice(&plane[y * stride..y * stride + w * 3]);
    }
    Ok(Frame {
        height: h,
        width: w,
        channels: 3,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_clip_reads_back_close_to_its_frames() {
        let dir = std::env::temp_dir().join(format!("weft-video-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("clip.mp4");
        let (w, h, t) = (32, 32, 6);
        let frames: Vec<u8> = (0..t * w * h)
            .map(|i| {
                let (f, p) = (i / (w * h), i % (w * h));
                if (p % w + f * 3) % w < 8 { 230 } else { 20 }
            })
            .collect();
        let settings = VideoEncoding {
            crf: 18,
            preset: "medium".into(),
            fps: 16,
        };
        write_grey_h264(&path, &frames, w, h, &settings).unwrap();
        let mut reader = VideoReader::open(&path).unwrap();
        assert_eq!(reader.len(), t);
        let got = reader.read(&[5, 0, 5]).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], got[2]);
        for (frame, index) in got.iter().zip([5usize, 0]) {
            assert_eq!((frame.height, frame.width, frame.channels), (h, w, 3));
            let original = &frames[index * w * h..(index + 1) * w * h];
            let err: f64 = frame
                .data
                .chunks(3)
                .zip(original)
                .map(|(px, &o)| (px[1] as f64 - o as f64).abs())
                .sum::<f64>()
                / (w * h) as f64;
            assert!(err < 6.0, "frame {index}: mean error {err}");
        }
        let past_end = VideoReader::open(&path).unwrap().read(&[t]).unwrap_err();
        assert!(past_end.contains("decodes to 6 frames"), "{past_end}");
        std::fs::write(&path, b"not a video").unwrap();
        assert!(VideoReader::open(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
