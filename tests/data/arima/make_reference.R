# Generates r_reference.json, the reference for tests/arima_test.cpp, with R's forecast package
# (Debian: apt-get install r-base-core r-cran-forecast; here forecast 8.20, R 4.2.2):
#   Rscript tests/data/arima/make_reference.R > tests/data/arima/r_reference.json
# On R `datasets` series that bench/forecast_vs_r.R does not use: for each model, the
# coefficients, CSS σ² and point forecasts of Arima(method = "CSS"), and the coefficients, AICc and
# forecasts of R's default fit ("CSS-ML"); for each series, urca's KPSS statistic, ndiffs(),
# nsdiffs() and the order auto.arima() picks.
suppressMessages(library(forecast))

num <- function(x) paste0("[", paste(sprintf("%.17g", as.numeric(x)), collapse = ","), "]")
field <- function(name, value) paste0('"', name, '":', value)

models <- list(
  list(series = "WWWusage", order = c(1, 1, 1), seasonal = c(0, 0, 0), drift = FALSE, h = 10),
  list(series = "WWWusage", order = c(3, 1, 0), seasonal = c(0, 0, 0), drift = FALSE, h = 10),
  list(series = "WWWusage", order = c(1, 1, 0), seasonal = c(0, 0, 0), drift = TRUE, h = 10),
  list(series = "sunspot.year", order = c(2, 0, 0), seasonal = c(0, 0, 0), drift = FALSE, h = 10),
  list(series = "sunspot.year", order = c(2, 0, 1), seasonal = c(0, 0, 0), drift = FALSE, h = 10),
  list(series = "UKDriverDeaths", order = c(0, 1, 1), seasonal = c(0, 1, 1), drift = FALSE, h = 24),
  list(series = "UKDriverDeaths", order = c(1, 0, 0), seasonal = c(1, 1, 0), drift = TRUE, h = 24),
  list(series = "lh", order = c(1, 0, 1), seasonal = c(0, 0, 0), drift = FALSE, h = 8),
  list(series = "uspop", order = c(0, 2, 1), seasonal = c(0, 0, 0), drift = FALSE, h = 5),
  list(series = "nhtemp", order = c(0, 1, 1), seasonal = c(0, 0, 0), drift = FALSE, h = 6))

# The same model by R's default, CSS then exact likelihood ("CSS-ML"): coefficients, σ², log
# likelihood, AICc and forecasts.
ml_entry <- function(y, spec) {
  fit <- Arima(y, order = spec$order, seasonal = spec$seasonal, include.drift = spec$drift,
               method = "CSS-ML")
  co <- coef(fit)
  pick <- function(prefix) co[grepl(paste0("^", prefix, "[0-9]+$"), names(co))]
  constant <- if ("intercept" %in% names(co)) co[["intercept"]] else if ("drift" %in% names(co)) co[["drift"]] else 0
  paste0("{", field("ar", num(pick("ar"))), ",", field("ma", num(pick("ma"))), ",",
         field("sar", num(pick("sar"))), ",", field("sma", num(pick("sma"))), ",",
         field("constant", sprintf("%.17g", constant)), ",",
         field("sigma2", sprintf("%.17g", fit$sigma2)), ",",
         field("loglik", sprintf("%.17g", fit$loglik)), ",",
         field("aicc", sprintf("%.17g", fit$aicc)), ",",
         field("forecast", num(forecast(fit, h = spec$h)$mean)), "}")
}

entries <- c()
for (spec in models) {
  y <- get(spec$series)
  fit <- Arima(y, order = spec$order, seasonal = spec$seasonal, include.drift = spec$drift,
               method = "CSS")
  co <- coef(fit)
  pick <- function(prefix) co[grepl(paste0("^", prefix, "[0-9]+$"), names(co))]
  # stats::arima's CSS σ² (the mean square of the conditional residuals) at these coefficients;
  # forecast::Arima's own sigma2 is from the Kalman filter's residuals, divided by n* − k + 1.
  css <- stats::arima(y, order = spec$order, seasonal = list(order = spec$seasonal, period = frequency(y)),
                      xreg = if (spec$drift) seq_along(y) else NULL, fixed = co,
                      transform.pars = FALSE, method = "CSS")$sigma2
  constant <- if ("intercept" %in% names(co)) co[["intercept"]] else if ("drift" %in% names(co)) co[["drift"]] else 0
  entries <- c(entries, paste0("{",
    field("series", paste0('"', spec$series, '"')), ",",
    field("period", frequency(y)), ",",
    field("order", num(c(spec$order, spec$seasonal))), ",",
    field("constant_included", tolower(as.character(length(co) > sum(spec$order[c(1, 3)]) + sum(spec$seasonal[c(1, 3)])))), ",",
    field("y", num(y)), ",",
    field("ar", num(pick("ar"))), ",", field("ma", num(pick("ma"))), ",",
    field("sar", num(pick("sar"))), ",", field("sma", num(pick("sma"))), ",",
    field("constant", sprintf("%.17g", constant)), ",",
    field("sigma2", sprintf("%.17g", css)), ",",
    field("forecast", num(forecast(fit, h = spec$h)$mean)), ",",
    field("ml", ml_entry(y, spec)), "}"))
}

selections <- c()
for (name in c("WWWusage", "sunspot.year", "UKDriverDeaths", "lh", "uspop", "nhtemp", "airmiles")) {
  y <- get(name)
  kpss <- urca::ur.kpss(y, type = "mu", use.lag = trunc(3 * sqrt(length(y)) / 13))@teststat[1]
  auto <- auto.arima(y)
  selections <- c(selections, paste0("{",
    field("series", paste0('"', name, '"')), ",",
    field("period", frequency(y)), ",",
    field("y", num(y)), ",",
    field("kpss", sprintf("%.17g", kpss)), ",",
    field("ndiffs", ndiffs(y)), ",",
    field("nsdiffs", if (frequency(y) > 1) nsdiffs(y) else 0), ",",
    field("auto_order", num(c(arimaorder(auto), 0, 0, 0)[1:6])), ",",
    field("auto_name", paste0('"', as.character(auto), '"')), "}"))
}
cat("{", field("models", paste0("[", paste(entries, collapse = ",\n"), "]")), ",\n",
    field("selections", paste0("[", paste(selections, collapse = ",\n"), "]")), "}\n")
