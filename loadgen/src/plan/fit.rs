//! Least-squares straight-line fits, with the quality measures `pushbench plan` reports.
//!
//! Capacity planning assumes the linear regime: a cost grows as `intercept + slope × x` over
//! the measured steps. The fit says how well that holds (R², residual spread) and over which
//! range of `x` it was measured, so an answer outside that range can be labelled an
//! extrapolation.

/// A fitted line `y = intercept + slope × x`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LinearFit {
    pub slope: f64,
    pub intercept: f64,
    /// Coefficient of determination, 0..=1 (1 = every point on the line). `None` when every
    /// `y` is equal (nothing to explain) or there are fewer than 3 points.
    pub r2: Option<f64>,
    /// Root-mean-square of the residuals, in `y`'s unit.
    pub rmse: f64,
    /// Points used.
    pub n: usize,
    /// Smallest and largest `x` measured.
    pub x_min: f64,
    pub x_max: f64,
}

/// Why a fit could not be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("a fit needs at least 2 points with distinct x, got {0}")]
    TooFewPoints(usize),
    #[error("a point is not a finite number")]
    NotFinite,
}

impl LinearFit {
    /// The fitted value at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
    /// Whether `x` lies outside the measured range (an extrapolation).
    pub fn extrapolates(&self, x: f64) -> bool {
        x < self.x_min || x > self.x_max
    }
}

/// Fits a line through `(x, y)` points by ordinary least squares.
pub fn fit_linear(points: &[(f64, f64)]) -> Result<LinearFit, FitError> {
    if points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return Err(FitError::NotFinite);
    }
    let n = points.len();
    let nf = n as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if n < 2 || sxx <= f64::EPSILON * mean_x.abs().max(1.0) {
        return Err(FitError::TooFewPoints(n));
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    Ok(measure(points, slope, intercept))
}

/// Fits a line through the origin (`y = slope × x`), for costs that must vanish at zero load
/// (bytes or requests per message).
pub fn fit_through_origin(points: &[(f64, f64)]) -> Result<LinearFit, FitError> {
    if points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return Err(FitError::NotFinite);
    }
    let sxx: f64 = points.iter().map(|p| p.0 * p.0).sum();
    if points.is_empty() || sxx <= 0.0 {
        return Err(FitError::TooFewPoints(points.len()));
    }
    let slope = points.iter().map(|p| p.0 * p.1).sum::<f64>() / sxx;
    Ok(measure(points, slope, 0.0))
}

/// The line `intercept + slope × x` with its quality against `points` (never empty) and the
/// range of `x` it was measured over.
fn measure(points: &[(f64, f64)], slope: f64, intercept: f64) -> LinearFit {
    let n = points.len();
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let ss_res: f64 = points
        .iter()
        .map(|p| (p.1 - (intercept + slope * p.0)).powi(2))
        .sum();
    let ss_tot: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    let r2 = if n >= 3 && ss_tot > 0.0 {
        Some((1.0 - ss_res / ss_tot).clamp(0.0, 1.0))
    } else {
        None
    };
    let (x_min, x_max) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    LinearFit {
        slope,
        intercept,
        r2,
        rmse: (ss_res / n as f64).sqrt(),
        n,
        x_min,
        x_max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_line_through_noise() {
        // y = 10 KiB per connection + 20 MB base, with ±1% deterministic noise.
        let pts: Vec<(f64, f64)> = [1000.0, 2000.0, 5000.0, 10000.0, 20000.0]
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let y = 20e6 + 10240.0 * x;
                (x, y * if i % 2 == 0 { 1.01 } else { 0.99 })
            })
            .collect();
        let f = fit_linear(&pts).unwrap();
        assert!(
            (f.slope - 10240.0).abs() / 10240.0 < 0.03,
            "slope {}",
            f.slope
        );
        assert!(f.r2.unwrap() > 0.99);
        assert!(f.extrapolates(1e6));
        assert!(!f.extrapolates(3000.0));
        assert!((f.at(0.0) - f.intercept).abs() < 1e-9);
    }

    #[test]
    fn exact_line_and_errors() {
        let f = fit_linear(&[(1.0, 3.0), (2.0, 5.0), (4.0, 9.0)]).unwrap();
        assert!((f.slope - 2.0).abs() < 1e-12 && (f.intercept - 1.0).abs() < 1e-12);
        assert_eq!(f.r2, Some(1.0));
        assert_eq!(fit_linear(&[(1.0, 1.0)]), Err(FitError::TooFewPoints(1)));
        assert_eq!(
            fit_linear(&[(1.0, 1.0), (1.0, 2.0)]),
            Err(FitError::TooFewPoints(2))
        );
        assert_eq!(
            fit_linear(&[(1.0, f64::NAN), (2.0, 2.0)]),
            Err(FitError::NotFinite)
        );
        let o = fit_through_origin(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]).unwrap();
        assert!((o.slope - 2.0).abs() < 1e-12);
    }
}
