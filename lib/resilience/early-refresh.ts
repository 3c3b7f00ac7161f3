/**
 * XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede Prevention",
 * VLDB 2015): refresh early when `now - delta * beta * ln(random()) >= expiry`, where `delta` is how
 * long the last load took. The closer expiry and the slower the load, the likelier a refresh.
 */
export function shouldRefreshEarly(now: number, expiresAt: number, delta: number, beta: number): boolean {
  return now - delta * beta * Math.log(Math.random()) >= expiresAt;
}

/**
 * Start of the window in which XFetch may fire with a probability worth checking: before
 * `expiresAt - 10 * delta * beta` the chance is below e^-10 (0.005 %). L1 copies are kept only
 * until then, so the hot L1 path never pays for the check.
 */
export function earlyRefreshWindowStart(expiresAt: number, delta: number, beta: number | false): number {
  return beta === false || delta <= 0 ? expiresAt : expiresAt - 10 * delta * beta;
}
