//! JPEG: `jpeg-encoder` writes the raw frames of generated data sets; `zune-jpeg` reads
//! frames for `RawFrameDecode`.

use jpeg_encoder::{ColorType, Encoder};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::Frame;

/// Largest side a frame may have (a corrupt header cannot make the decoder allocate more).
const MAX_SIDE: usize = 16_384;

/// Encodes a grey image (`height * width` bytes) as a one-channel JPEG.
pub fn encode_grey(
    pixels: &[u8],
    width: usize,
    height: usize,
    quality: u8,
) -> Result<Vec<u8>, String> {
    let (w, h) = (side(width)?, side(height)?);
    let mut out = Vec::with_capacity(pixels.len() / 4 + 640);
    Encoder::new(&mut out, quality)
        .encode(pixels, w, h, ColorType::Luma)
        .map_err(|e| format!("JPEG encoding failed: {e}"))?;
    Ok(out)
}

fn side(n: usize) -> Result<u16, String> {
    u16::try_from(n)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| format!("a JPEG side must be 1-65535 pixels, not {n}"))
}

/// Decodes a JPEG (grey or colour) into an RGB frame.
pub fn decode_rgb(bytes: &[u8]) -> Result<Frame, String> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let data = decoder
        .decode()
        .map_err(|e| format!("not a valid JPEG: {e}"))?;
    let info = decoder
        .info()
        .ok_or_else(|| "not a valid JPEG: no header".to_string())?;
    let (height, width) = (info.height as usize, info.width as usize);
    if data.len() != height * width * 3 {
        return Err(format!(
            "not a valid JPEG: {} bytes decoded for {width}x{height} RGB",
            data.len()
        ));
    }
    Ok(Frame {
        height,
        width,
        channels: 3,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grey_jpeg_decodes_to_three_equal_channels_close_to_the_original() {
        let (w, h) = (24, 16);
        let pixels: Vec<u8> = (0..w * h).map(|i| ((i % w) * 10) as u8).collect();
        let bytes = encode_grey(&pixels, w, h, 95).unwrap();
        let frame = decode_rgb(&bytes).unwrap();
        assert_eq!((frame.height, frame.width, frame.channels), (h, w, 3));
        for (i, px) in frame.data.chunks(3).enumerate() {
            assert_eq!(px[0], px[1]);
            assert_eq!(px[1], px[2]);
            assert!((px[0] as i32 - pixels[i] as i32).abs() <= 8, "pixel {i}");
        }
    }

    #[test]
    fn garbage_and_truncated_files_are_errors() {
        assert!(decode_rgb(b"not a jpeg").is_err());
        let bytes = encode_grey(&[128; 64], 8, 8, 90).unwrap();
        assert!(decode_rgb(&bytes[..bytes.len() / 2]).is_err());
        assert!(encode_grey(&[], 0, 0, 90).is_err());
    }
}
