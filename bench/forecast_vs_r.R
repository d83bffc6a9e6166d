# Exports R's `datasets` series for bench/forecast_vs_r.py and R forecast's answers for them:
#   Rscript bench/forecast_vs_r.R OUT_DIR
# For each series: OUT_DIR/NAME_train.csv (all but the last H values, with dates), and one line
# of OUT_DIR/r_forecasts.csv per method and step: ets(), auto.arima(), thetaf(), M4's Comb,
# seasonal-naive and naive fitted on the training part, forecasting the last H values (M4
# horizons: monthly 18, quarterly 8, yearly/other 6). Needs r-base-core and r-cran-forecast.
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) > 0) args[1] else "forecast_bench"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

series <- list(AirPassengers = AirPassengers, nottem = nottem, co2 = co2, UKgas = UKgas,
               USAccDeaths = USAccDeaths, ldeaths = ldeaths, JohnsonJohnson = JohnsonJohnson,
               austres = austres, lynx = lynx, Nile = Nile, LakeHuron = LakeHuron,
               BJsales = BJsales)

# M4's Comb benchmark (github.com/Mcompetitions/M4-methods).
seasonality_test <- function(input, ppy) {
  if (length(input) < 3 * ppy) return(FALSE)
  xacf <- acf(input, plot = FALSE)$acf[-1, 1, 1]
  clim <- 1.645 / sqrt(length(input)) * sqrt(cumsum(c(1, 2 * xacf^2)))
  isTRUE(abs(xacf[ppy]) > clim[ppy])
}
comb <- function(input, fh) {
  ppy <- frequency(input)
  if (ppy > 1 && seasonality_test(input, ppy)) {
    dec <- decompose(input, type = "multiplicative")
    des <- input / dec$seasonal
    si <- head(rep(dec$seasonal[(length(dec$seasonal) - ppy + 1):length(dec$seasonal)], fh), fh)
  } else {
    des <- input
    si <- rep(1, fh)
  }
  (ses(des, h = fh)$mean + holt(des, h = fh)$mean + holt(des, h = fh, damped = TRUE)$mean) / 3 * si
}

date_text <- function(y) {
  f <- frequency(y)
  t <- time(y)
  if (f == 12 || f == 4) {
    year <- floor(t + 1e-6)
    month <- round((t - year) * 12) + 1
    sprintf("%04d-%02d", as.integer(year), as.integer(month))
  } else if (f == 1 && all(abs(t - round(t)) < 1e-6) && min(t) > 1000) {
    sprintf("%04d-01", as.integer(round(t)))
  } else {
    NULL
  }
}

rows <- c("series,frequency,horizon,method,step,value")
for (name in names(series)) {
  y <- series[[name]]
  f <- frequency(y)
  h <- if (f == 12) 18 else if (f == 4) 8 else 6
  n <- length(y)
  train <- window(y, end = time(y)[n - h])
  dates <- date_text(y)
  csv <- if (is.null(dates)) data.frame(value = as.numeric(y)) else
    data.frame(date = dates, value = as.numeric(y))
  write.csv(csv[1:(n - h), , drop = FALSE], file.path(out, paste0(name, "_train.csv")),
            row.names = FALSE, quote = FALSE)
  forecasts <- list(
    actual = as.numeric(y)[(n - h + 1):n],
    ets = forecast(ets(train), h = h)$mean,
    arima = forecast(auto.arima(train), h = h)$mean,
    theta = thetaf(train, h = h)$mean,
    comb = comb(train, h),
    snaive = if (f > 1) snaive(train, h = h)$mean else naive(train, h = h)$mean,
    naive = naive(train, h = h)$mean)
  for (method in names(forecasts))
    rows <- c(rows, sprintf("%s,%d,%d,%s,%d,%.10g", name, f, h, method, 1:h,
                            as.numeric(forecasts[[method]])))
}
writeLines(rows, file.path(out, "r_forecasts.csv"))
