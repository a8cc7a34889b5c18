//! `T2LcFeatures`: per band, the standard light-curve features of
//! `light-curve-feature` on AB magnitudes, and the Bazin and Villar fits on fluxes
//! (nJy), with the library's default MCMC fitter (fixed seed: the same state gives
//! the same numbers). Feature names are the library's (those of the `light-curve`
//! Python package's extractors); a feature whose minimum number of points the band
//! does not reach is `null`, and so is a fit that cannot be made.
//!
//! The feature set (config `features`, default [`DEFAULT_FEATURES`]) is the one the
//! Fink broker extracts from ZTF light curves; `fits = false` leaves the fits out.

use crate::photometry::{bands, Series};
use ampel_interface::photometry::AB_ZERO_POINT_NJY;
use ampel_interface::*;
use light_curve_feature::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Features by name (the name used in the config; results use the library's
/// names, which can be several per feature: `linear_fit_slope`, ...).
pub const DEFAULT_FEATURES: &[&str] = &[
    "Amplitude",
    "AndersonDarlingNormal",
    "BeyondNStd",
    "Cusum",
    "Duration",
    "Eta",
    "EtaE",
    "ExcessVariance",
    "InterPercentileRange",
    "Kurtosis",
    "LinearFit",
    "LinearTrend",
    "MagnitudePercentageRatio",
    "MaximumSlope",
    "Mean",
    "Median",
    "MedianAbsoluteDeviation",
    "MedianBufferRangePercentage",
    "ObservationCount",
    "PercentAmplitude",
    "PercentDifferenceMagnitudePercentile",
    "ReducedChi2",
    "Skew",
    "StandardDeviation",
    "StetsonK",
    "WeightedMean",
];

/// A feature of the set by its config name, with Fink's parameters.
fn feature(name: &str) -> Option<Feature<f64>> {
    Some(match name {
        "Amplitude" => Amplitude::new().into(),
        "AndersonDarlingNormal" => AndersonDarlingNormal::new().into(),
        "BeyondNStd" => BeyondNStd::new(1.0).into(),
        "Cusum" => Cusum::new().into(),
        "Duration" => Duration::new().into(),
        "Eta" => Eta::new().into(),
        "EtaE" => EtaE::new().into(),
        "ExcessVariance" => ExcessVariance::new().into(),
        "InterPercentileRange" => InterPercentileRange::new(0.1).into(),
        "Kurtosis" => Kurtosis::new().into(),
        "LinearFit" => LinearFit::new().into(),
        "LinearTrend" => LinearTrend::new().into(),
        "MagnitudePercentageRatio" => MagnitudePercentageRatio::new(0.4, 0.05).into(),
        "MaximumSlope" => MaximumSlope::new().into(),
        "Mean" => Mean::new().into(),
        "Median" => Median::new().into(),
        "MedianAbsoluteDeviation" => MedianAbsoluteDeviation::new().into(),
        "MedianBufferRangePercentage" => MedianBufferRangePercentage::new(0.1).into(),
        "ObservationCount" => ObservationCount::new().into(),
        "PercentAmplitude" => PercentAmplitude::new().into(),
        "PercentDifferenceMagnitudePercentile" => {
            PercentDifferenceMagnitudePercentile::new(0.05).into()
        }
        "ReducedChi2" => ReducedChi2::new().into(),
        "Skew" => Skew::new().into(),
        "StandardDeviation" => StandardDeviation::new().into(),
        "StetsonK" => StetsonK::new().into(),
        "WeightedMean" => WeightedMean::new().into(),
        _ => return None,
    })
}

/// Config of [`T2LcFeatures`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct T2LcFeaturesConfig {
    /// Features on magnitudes, by name (see [`DEFAULT_FEATURES`]).
    pub features: Vec<String>,
    /// Bazin and Villar fits on fluxes.
    pub fits: bool,
}

impl Default for T2LcFeaturesConfig {
    fn default() -> Self {
        T2LcFeaturesConfig {
            features: DEFAULT_FEATURES.iter().map(|s| s.to_string()).collect(),
            fits: true,
        }
    }
}

impl UnitConfig for T2LcFeaturesConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        self.features
            .iter()
            .enumerate()
            .filter(|(_, f)| feature(f).is_none())
            .map(|(i, f)| {
                FieldProblem::new(
                    format!("features.{i}"),
                    f,
                    format!("one of {}", DEFAULT_FEATURES.join(", ")),
                )
            })
            .collect()
    }
}

/// The result of [`T2LcFeatures`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LcFeatures {
    /// Time scale of fit times: `MJD`.
    pub time: &'static str,
    /// Flux unit of the fits: `nJy`.
    pub flux_unit: &'static str,
    /// AB zero point of a flux in nJy.
    pub zero_point: f64,
    /// Per band.
    pub bands: BTreeMap<String, BandFeatures>,
}

/// One band of [`LcFeatures`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandFeatures {
    /// Points with a magnitude.
    pub mag_points: usize,
    /// Points with a flux.
    pub flux_points: usize,
    /// Feature values on magnitudes by the library's names (`null`: too few points).
    pub features: BTreeMap<String, Option<f64>>,
    /// Bazin fit on fluxes (`bazin_fit_amplitude`, `..._baseline`,
    /// `..._reference_time`, `..._rise_time`, `..._fall_time`, `..._reduced_chi2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bazin: Option<BTreeMap<String, Option<f64>>>,
    /// Villar fit on fluxes (`villar_fit_amplitude`, ..., `..._reduced_chi2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub villar: Option<BTreeMap<String, Option<f64>>>,
}

/// The feature and fit unit.
pub struct T2LcFeatures {
    features: Vec<Feature<f64>>,
    fits: Option<[Feature<f64>; 2]>,
}

impl Unit for T2LcFeatures {
    const NAME: &'static str = "T2LcFeatures";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = T2LcFeaturesConfig;
    fn new(c: T2LcFeaturesConfig) -> Result<Self, ConfigError> {
        Ok(T2LcFeatures {
            features: c.features.iter().filter_map(|f| feature(f)).collect(),
            fits: c
                .fits
                .then(|| [BazinFit::default().into(), VillarFit::default().into()]),
        })
    }
}

/// Values of `f` on `s` by name; all `null` where `s` has too few points.
fn evaluate(f: &Feature<f64>, s: &Series, out: &mut BTreeMap<String, Option<f64>>) {
    let w = s.weights();
    let mut ts = TimeSeries::new(&s.t[..], &s.v[..], &w[..]);
    let values = f.eval(&mut ts).ok();
    for (i, name) in f.get_names().into_iter().enumerate() {
        let v = values
            .as_ref()
            .and_then(|v| v.get(i).copied())
            .filter(|x| x.is_finite());
        out.insert(name.to_string(), v);
    }
}

impl T2LcFeatures {
    /// The features and fits of one state's datapoints.
    pub fn compute(&self, dps: &[DataPoint]) -> LcFeatures {
        let bands = bands(dps)
            .into_iter()
            .map(|(name, b)| {
                let mut features = BTreeMap::new();
                for f in &self.features {
                    evaluate(f, &b.mag, &mut features);
                }
                let fit = |f: &Feature<f64>| {
                    let mut out = BTreeMap::new();
                    evaluate(f, &b.flux, &mut out);
                    out
                };
                let (bazin, villar) = match &self.fits {
                    Some([bz, vl]) => (Some(fit(bz)), Some(fit(vl))),
                    None => (None, None),
                };
                (
                    name,
                    BandFeatures {
                        mag_points: b.mag.len(),
                        flux_points: b.flux.len(),
                        features,
                        bazin,
                        villar,
                    },
                )
            })
            .collect();
        LcFeatures {
            time: "MJD",
            flux_unit: "nJy",
            zero_point: AB_ZERO_POINT_NJY,
            bands,
        }
    }
}

impl StateT2 for T2LcFeatures {
    fn process(&self, _state: &T1Document, dps: &[DataPoint]) -> Result<UnitResult, UnitError> {
        let body = ampel_interface::serde_json::to_value(self.compute(dps))
            .map_err(|e| UnitError::bad_result(format!("cannot encode the features: {e}")))?;
        Ok(UnitResult::ok(body))
    }

    fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
        Some(
            [
                "magpsf",
                "sigmapsf",
                "fid",
                "jd",
                "psfFlux",
                "psfFluxErr",
                "band",
                "midpointMjdTai",
            ]
            .map(String::from)
            .into(),
        )
    }
}
