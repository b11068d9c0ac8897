// The balance-over-time chart (uPlot, vendored): one point per event, at the time it
// was recorded, at the balance right after it (`data.balance`; events that move no
// balance keep the one before). Amounts become numbers here for drawing only; every
// figure the console shows as text is the API's exact decimal string.

export function balanceAfter(events, start = "0") {
  const xs = [], ys = [], texts = [];
  let balance = start;
  for (const e of events) {
    if (e.data && e.data.balance !== undefined) balance = String(e.data.balance);
    xs.push(Date.parse(e.recorded_at) / 1000);
    ys.push(Number(balance));
    texts.push(balance);
  }
  return [xs, ys, texts];
}

// Zero as the API writes amounts like `sample` ("12.50" gives "0.00", "1000" "0").
export function zeroLike(sample) {
  const digits = String(sample).split(".")[1];
  return digits ? `0.${"0".repeat(digits.length)}` : "0";
}

// Draws `events` into `box`; returns what appends live events and how many points
// the chart holds. `sample`: an amount of the account's currency as the API writes it
// (the opening balance, before any event gives one, is zero written so).
export function balanceChart(box, events, currency, sample) {
  // `texts`: each point's balance as the API wrote it, for the legend and the label.
  const zero = zeroLike(sample);
  const [xs, ys, texts] = balanceAfter(events, zero);
  const width = () => Math.max(280, box.clientWidth || 800);
  const options = {
    width: width(),
    height: 260,
    scales: { x: { time: true } },
    series: [
      {},
      {
        label: `Balance (${currency})`,
        stroke: "#0b5cad",
        width: 2,
        fill: "rgba(11, 92, 173, 0.08)",
        points: { show: xs.length <= 200 },
        // A balance holds from one event to the next: steps, not slopes.
        paths: window.uPlot.paths.stepped({ align: 1 }),
        value: (u, v, s, i) => (i === null || i === undefined ? "—" : texts[i]),
      },
    ],
    // As wide as the longest label (a balance of 20 digits was cut off on the left).
    axes: [{}, { size: (u, values) => Math.max(80, 16 + 8 * Math.max(0, ...(values ?? []).map((v) => String(v).length))) }],
  };
  const plot = new window.uPlot(options, [xs, ys], box);
  const describe = () => {
    box.dataset.points = String(xs.length);
    const last = texts.length ? texts[texts.length - 1] : zero;
    box.setAttribute("aria-label",
      `Balance over time: ${xs.length} events; the latest balance is ${last} ${currency}.`);
  };
  describe();
  const resize = () => plot.setSize({ width: width(), height: 260 });
  window.addEventListener("resize", resize);
  return {
    points: () => xs.length,
    append(event) {
      const [x, y, text] = balanceAfter([event], texts.length ? texts[texts.length - 1] : zero);
      xs.push(x[0]);
      ys.push(y[0]);
      texts.push(text[0]);
      plot.setData([xs, ys]);
      describe();
    },
    destroy() {
      window.removeEventListener("resize", resize);
      plot.destroy();
    },
  };
}
