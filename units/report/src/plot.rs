//! A light curve as a PNG: magnitude (brighter up) against time, one colour per
//! band, error bars for detections, open triangles for upper limits. Pixels are
//! drawn directly (no fonts needed: titles and numbers are in the HTML around it),
//! and the PNG is encoded with fixed settings, so the same data gives the same bytes.

/// One point to plot.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotPoint {
    /// Time (JD).
    pub time: f64,
    /// Magnitude or limiting magnitude.
    pub mag: f64,
    /// Error (detections).
    pub err: Option<f64>,
    /// Band label (`1`/`g`, `2`/`r`, `3`/`i`, ...).
    pub band: String,
    /// An upper limit rather than a detection.
    pub upper_limit: bool,
}

const W: usize = 480;
const H: usize = 300;
const PAD: usize = 24;

fn colour(band: &str) -> [u8; 3] {
    match band {
        "1" | "g" => [30, 140, 60],
        "2" | "r" => [200, 40, 40],
        "3" | "i" => [220, 140, 20],
        _ => [60, 60, 200],
    }
}

struct Canvas(Vec<u8>);

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if (0..W as i64).contains(&x) && (0..H as i64).contains(&y) {
            let i = (y as usize * W + x as usize) * 3;
            self.0[i..i + 3].copy_from_slice(&c);
        }
    }
    fn hline(&mut self, x0: i64, x1: i64, y: i64, c: [u8; 3]) {
        (x0.min(x1)..=x0.max(x1)).for_each(|x| self.set(x, y, c));
    }
    fn vline(&mut self, x: i64, y0: i64, y1: i64, c: [u8; 3]) {
        (y0.min(y1)..=y0.max(y1)).for_each(|y| self.set(x, y, c));
    }
}

/// Render points as a PNG (bytes).
pub fn light_curve_png(points: &[PlotPoint]) -> Result<Vec<u8>, String> {
    let mut c = Canvas(vec![255; W * H * 3]);
    let grey = [170, 170, 170];
    let (l, r, t, b) = (
        PAD as i64,
        (W - PAD) as i64,
        PAD as i64 / 2,
        (H - PAD) as i64,
    );
    c.hline(l, r, t, grey);
    c.hline(l, r, b, grey);
    c.vline(l, t, b, grey);
    c.vline(r, t, b, grey);
    let finite: Vec<&PlotPoint> = points
        .iter()
        .filter(|p| p.time.is_finite() && p.mag.is_finite())
        .collect();
    if !finite.is_empty() {
        let span = |v: Vec<f64>| {
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
            let pad = ((hi - lo) * 0.08).max(0.05);
            (lo - pad, hi + pad)
        };
        let (t0, t1) = span(finite.iter().map(|p| p.time).collect());
        let (m0, m1) = span(
            finite
                .iter()
                .flat_map(|p| [p.mag - p.err.unwrap_or(0.0), p.mag + p.err.unwrap_or(0.0)])
                .collect(),
        );
        let x = |time: f64| l + ((time - t0) / (t1 - t0) * (r - l) as f64).round() as i64;
        // brighter (smaller magnitude) up
        let y = |mag: f64| t + ((mag - m0) / (m1 - m0) * (b - t) as f64).round() as i64;
        for p in &finite {
            let (px, py, col) = (x(p.time), y(p.mag), colour(&p.band));
            if p.upper_limit {
                for d in 0..5 {
                    c.hline(px - (4 - d), px + (4 - d), py - 4 + d * 2, col);
                }
                continue;
            }
            if let Some(e) = p.err {
                c.vline(px, y(p.mag - e), y(p.mag + e), col);
            }
            for dy in -2..=2 {
                c.hline(px - 2, px + 2, py + dy, col);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, W as u32, H as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(&c.0).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_points_same_png_and_it_decodes() {
        let pts = vec![
            PlotPoint {
                time: 1.0,
                mag: 18.0,
                err: Some(0.1),
                band: "1".into(),
                upper_limit: false,
            },
            PlotPoint {
                time: 2.0,
                mag: 17.5,
                err: Some(0.1),
                band: "2".into(),
                upper_limit: false,
            },
            PlotPoint {
                time: 0.5,
                mag: 19.5,
                err: None,
                band: "1".into(),
                upper_limit: true,
            },
        ];
        let a = light_curve_png(&pts).unwrap();
        assert_eq!(a, light_curve_png(&pts).unwrap());
        let dec = png::Decoder::new(a.as_slice());
        let reader = dec.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (480, 300));
    }
}
