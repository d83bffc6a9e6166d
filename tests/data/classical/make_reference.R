# Generates r_reference.json, the reference for tests/classical_test.cpp, with R's forecast
# package (Debian: apt-get install r-base-core r-cran-forecast; here forecast 8.20, R 4.2.2):
#   Rscript tests/data/classical/make_reference.R > tests/data/classical/r_reference.json
# For each series: R's fitted parameters, initial states, one-step fitted values and forecasts
# of ses, holt, holt(damped), hw(additive), hw(multiplicative); thetaf's forecast with its SES
# parameters; decompose()'s multiplicative figure; the seasonality tests; and M4's Comb.
suppressMessages(library(forecast))

num <- function(x) paste0("[", paste(sprintf("%.17g", as.numeric(x)), collapse = ","), "]")
field <- function(name, value) paste0('"', name, '":', value)

# M4's benchmark code (github.com/Mcompetitions/M4-methods, Benchmarks and Evaluation.R).
m4_seasonality_test <- function(input, ppy) {
  tcrit <- 1.645
  if (length(input) < 3 * ppy) return(FALSE)
  xacf <- acf(input, plot = FALSE)$acf[-1, 1, 1]
  clim <- tcrit / sqrt(length(input)) * sqrt(cumsum(c(1, 2 * xacf^2)))
  isTRUE(abs(xacf[ppy]) > clim[ppy])
}
m4_comb <- function(input, fh) {
  ppy <- frequency(input)
  st <- ppy > 1 && m4_seasonality_test(input, ppy)
  if (st) {
    dec <- decompose(input, type = "multiplicative")
    des <- input / dec$seasonal
    si <- head(rep(dec$seasonal[(length(dec$seasonal) - ppy + 1):length(dec$seasonal)], fh), fh)
  } else {
    des <- input
    si <- rep(1, fh)
  }
  f4 <- ses(des, h = fh)$mean * si
  f5 <- holt(des, h = fh, damped = FALSE)$mean * si
  f6 <- holt(des, h = fh, damped = TRUE)$mean * si
  (f4 + f5 + f6) / 3
}

model_json <- function(name, fc) {
  fit <- fc$model
  par <- fit$par
  get <- function(key, default) if (key %in% names(par)) par[[key]] else default
  paste0('"', name, '":{',
         field("alpha", sprintf("%.17g", get("alpha", 0))), ",",
         field("beta", sprintf("%.17g", get("beta", 0))), ",",
         field("gamma", sprintf("%.17g", get("gamma", 0))), ",",
         field("phi", sprintf("%.17g", get("phi", 1))), ",",
         field("state0", num(fit$states[1, ])), ",",  # l, b, s1 (latest) .. sm
         field("fitted", num(fitted(fit))), ",",
         field("mse", sprintf("%.17g", fit$mse)), ",",
         field("forecast", num(fc$mean)), "}")
}

series_json <- function(name, y) {
  m <- frequency(y)
  h <- if (m > 1) 2 * m else 10
  parts <- c(field("name", paste0('"', name, '"')), field("period", m), field("values", num(y)),
             field("horizon", h))
  models <- c(model_json("ses", ses(y, h = h)), model_json("holt", holt(y, h = h)),
              model_json("damped", holt(y, h = h, damped = TRUE)))
  if (m > 1) {
    models <- c(models, model_json("hw_additive", hw(y, h = h, seasonal = "additive")),
                model_json("hw_multiplicative", hw(y, h = h, seasonal = "multiplicative")))
    parts <- c(parts, field("figure", num(decompose(y, type = "multiplicative")$figure)))
  }
  parts <- c(parts, paste0('"models":{', paste(models, collapse = ","), "}"))
  # thetaf's seasonality decision and its SES (on the adjusted series), refitted as thetaf does.
  n <- length(y)
  seasonal <- FALSE
  if (m > 1 && n > 2 * m) {
    r <- as.numeric(acf(y, lag.max = m, plot = FALSE)$acf)[-1]
    seasonal <- abs(r[m]) / sqrt((1 + 2 * sum(r[-m]^2)) / n) > qnorm(0.95)
  }
  x <- if (seasonal) seasadj(decompose(y, type = "multiplicative")) else y
  s <- ses(x, h = h)$model
  parts <- c(parts, paste0('"theta":{', field("seasonal", tolower(seasonal)), ",",
                           field("alpha", sprintf("%.17g", s$par[["alpha"]])), ",",
                           field("level", sprintf("%.17g", s$par[["l"]])), ",",
                           field("forecast", num(thetaf(y, h = h)$mean)), "}"),
             field("m4_seasonal", tolower(m > 1 && m4_seasonality_test(y, m))),
             field("comb", num(m4_comb(y, h))))
  paste0("{", paste(parts, collapse = ","), "}")
}

series <- list(AirPassengers = AirPassengers, UKgas = UKgas, Nile = Nile)
cat("[", paste(mapply(series_json, names(series), series), collapse = ",\n"), "]\n", sep = "")
