# Generates decompose_reference.json, the reference for tests/forecast_normalization_test.cpp,
# with R's stats::decompose (Debian: apt-get install r-base-core; here R 4.2.2):
#   Rscript tests/data/forecast_normalization/make_reference.R > tests/data/forecast_normalization/decompose_reference.json
# For each series: its values and period, decompose()'s additive figure, and (positive series)
# the multiplicative figure; the seasonality test (thetaf's 90% rule on the series).
num <- function(x) paste0("[", paste(sprintf("%.17g", as.numeric(x)), collapse = ","), "]")
field <- function(name, value) paste0('"', name, '":', value)

seasonal_test <- function(y) {
  m <- frequency(y)
  n <- length(y)
  if (m < 2 || n <= 3 * m - 1) return(FALSE)
  r <- as.numeric(acf(y, lag.max = m, plot = FALSE)$acf)[-1]
  abs(r[m]) / sqrt((1 + 2 * sum(r[-m]^2)) / n) > qnorm(0.95)
}

series_json <- function(name, y) {
  parts <- c(field("name", paste0('"', name, '"')), field("period", frequency(y)),
             field("values", num(y)),
             field("additive", num(decompose(y, type = "additive")$figure)),
             field("seasonal_test", tolower(seasonal_test(y))))
  if (all(y > 0))
    parts <- c(parts, field("multiplicative", num(decompose(y, type = "multiplicative")$figure)))
  paste0("{", paste(parts, collapse = ","), "}")
}

set.seed(17)
t <- 0:69
# Odd period, values of both signs: an additive season only.
weekly <- ts(round(3 * sin(2 * pi * t / 7) + 0.05 * t - 1 + rnorm(70, sd = 0.5), 3), frequency = 7)
series <- list(USAccDeaths = USAccDeaths, UKgas = UKgas, weekly_signed = weekly,
               white_noise = ts(round(rnorm(48), 3), frequency = 12))
cat("[", paste(mapply(series_json, names(series), series), collapse = ",\n"), "]\n", sep = "")
