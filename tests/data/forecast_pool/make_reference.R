# Generates r_reference.json, the reference for tests/forecast_pool_test.cpp, with R's forecast
# package (Debian: apt-get install r-base-core r-cran-forecast; here forecast 8.20, R 4.2.2):
#   Rscript tests/data/forecast_pool/make_reference.R > tests/data/forecast_pool/r_reference.json
# ARIMA on the logarithm (Box-Cox lambda = 0, forecasts not bias-adjusted: R's defaults) on R
# `datasets` series that bench/forecast_vs_r.R does not use: for each model, the coefficients
# (of the model for log y) and the point forecasts in original units of
# Arima(y, lambda = 0, method = "CSS"); for each series, the order auto.arima(y, lambda = 0)
# picks.
suppressMessages(library(forecast))

num <- function(x) paste0("[", paste(sprintf("%.17g", as.numeric(x)), collapse = ","), "]")
field <- function(name, value) paste0('"', name, '":', value)

models <- list(
  list(series = "UKDriverDeaths", order = c(0, 1, 1), seasonal = c(0, 1, 1), drift = FALSE, h = 24),
  list(series = "fdeaths", order = c(1, 0, 0), seasonal = c(0, 1, 1), drift = TRUE, h = 18),
  list(series = "airmiles", order = c(0, 1, 1), seasonal = c(0, 0, 0), drift = TRUE, h = 6))

entries <- c()
for (spec in models) {
  y <- get(spec$series)
  fit <- Arima(y, order = spec$order, seasonal = spec$seasonal, include.drift = spec$drift,
               lambda = 0, method = "CSS")
  co <- coef(fit)
  pick <- function(prefix) co[grepl(paste0("^", prefix, "[0-9]+$"), names(co))]
  constant <- if ("intercept" %in% names(co)) co[["intercept"]] else if ("drift" %in% names(co)) co[["drift"]] else 0
  entries <- c(entries, paste0("{",
    field("series", paste0('"', spec$series, '"')), ",",
    field("period", frequency(y)), ",",
    field("order", num(c(spec$order, spec$seasonal))), ",",
    field("constant_included", tolower(as.character(spec$drift))), ",",
    field("y", num(y)), ",",
    field("ar", num(pick("ar"))), ",", field("ma", num(pick("ma"))), ",",
    field("sar", num(pick("sar"))), ",", field("sma", num(pick("sma"))), ",",
    field("constant", sprintf("%.17g", constant)), ",",
    field("forecast", num(forecast(fit, h = spec$h)$mean)), "}"))
}

selections <- c()
for (name in c("UKDriverDeaths", "fdeaths", "mdeaths", "airmiles")) {
  y <- get(name)
  auto <- auto.arima(y, lambda = 0)
  selections <- c(selections, paste0("{",
    field("series", paste0('"', name, '"')), ",",
    field("period", frequency(y)), ",",
    field("y", num(y)), ",",
    field("auto_name", paste0('"', as.character(auto), '"')), "}"))
}
cat("{", field("log_models", paste0("[", paste(entries, collapse = ",\n"), "]")), ",\n",
    field("log_selections", paste0("[", paste(selections, collapse = ",\n"), "]")), "}\n")
