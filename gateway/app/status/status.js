// CareBridge status page: polls /status/data (same origin, no PHI) and draws it. No libraries.
'use strict';
(() => {
  // ?poll=MS polls faster (tests); at least 500 ms.
  const POLL_MS = Math.max(500, Number(new URLSearchParams(location.search).get('poll')) || 5000);
  const $ = (sel) => document.querySelector(sel);
  const fmt = new Intl.NumberFormat('en-US');
  const num = (v) => (v === null || v === undefined ? '—' : fmt.format(Math.round(v)));
  const rate = (v) => (v === null || v === undefined ? '—' : v < 10 ? v.toFixed(2) : v.toFixed(0));
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  function age(s) {
    if (s === null || s === undefined) return '—';
    if (s < 1) return '<1 s';
    if (s < 90) return Math.round(s) + ' s';
    if (s < 5400) return Math.round(s / 60) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h';
    return Math.round(s / 86400) + ' d';
  }

  function setMetric(name, text) {
    for (const el of document.querySelectorAll(`[data-metric="${name}"]`)) el.textContent = text;
  }

  function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function countCell(v, badWhenPositive) {
    return cell(num(v), 'n' + (v > 0 && badWhenPositive ? ' bad' : v === 0 ? ' zero' : ''));
  }

  function fillTable(id, rows, emptyText, columns) {
    const body = $(`#${id} tbody`);
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      const td = cell(emptyText);
      td.colSpan = columns;
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const r of rows) body.append(r);
  }

  // --- charts: plain canvas line charts over the last hour -------------------------------------
  function drawChart(canvas, legend, series, opts) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const padL = 46, padR = 10, padT = 10, padB = 24;
    const now = opts.now, from = now - 3600;
    let max = 0;
    for (const s of series) for (const p of s.points) if (p[1] !== null && p[1] > max) max = p[1];
    max = niceMax(max);
    const x = (t) => padL + ((t - from) / 3600) * (w - padL - padR);
    const y = (v) => padT + (1 - v / max) * (h - padT - padB);
    // Grid and axes.
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = css('--muted');
    g.strokeStyle = css('--line');
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (max / 4) * i, yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(padL, yy); g.lineTo(w - padR, yy); g.stroke();
      g.fillText(shortNum(v), padL - 6, yy);
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    for (let m = 60; m >= 0; m -= 15) {
      const xx = x(now - m * 60);
      g.fillText(m === 0 ? 'now' : `-${m} min`, xx, h - padB + 6);
    }
    // Series.
    for (const s of series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = 2;
      if (opts.bars) {
        const bw = Math.max(1, ((w - padL - padR) / 360) - 1);
        for (const [t, v] of s.points) if (v) g.fillRect(x(t) - bw, y(v), bw, y(0) - y(v));
        continue;
      }
      g.beginPath();
      let pen = false;
      for (const [t, v] of s.points) {
        if (v === null || t < from) { pen = false; continue; }
        if (pen) g.lineTo(x(t), y(v)); else g.moveTo(x(t), y(v));
        pen = true;
      }
      g.stroke();
      // Dots where the line is short (few samples yet, or gaps) and at the latest sample.
      const shown = s.points.filter((p) => p[1] !== null && p[0] >= from);
      shown.forEach(([t, v], i) => {
        if (shown.length > 30 && i !== shown.length - 1) return;
        g.beginPath();
        g.arc(x(t), y(v), 2.5, 0, 2 * Math.PI);
        g.fill();
      });
    }
    if (series.every((s) => s.points.length === 0)) {
      g.fillStyle = css('--muted');
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText('collecting samples (one every 10 s)…', (padL + w - padR) / 2, (padT + h - padB) / 2);
    }
    legend.replaceChildren(...series.map((s) => {
      const li = document.createElement('li');
      const sw = document.createElement('i');
      sw.style.background = s.color;
      const last = [...s.points].reverse().find((p) => p[1] !== null);
      li.append(sw, `${s.name}: ${last ? rate(last[1]) : '—'}`);
      return li;
    }));
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  function shortNum(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    return v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1);
  }

  let lastData = null;
  function drawCharts() {
    const d = lastData;
    if (!d) return;
    const now = Date.parse(d.generated_at) / 1000;
    const pts = (key) => d.series.map((s) => [s.t, s[key]]);
    drawChart($('#chart-throughput'), $('#legend-throughput'), [
      { name: 'messages in', color: css('--c1'), points: pts('messages_per_s') },
      { name: 'alerts', color: css('--c2'), points: pts('alerts_per_s') },
      { name: 'notifications', color: css('--c3'), points: pts('notifications_per_s') },
    ], { now });
    drawChart($('#chart-latency'), $('#legend-latency'), [
      { name: 'ACK p95', color: css('--c1'), points: pts('ack_p95_ms') },
      { name: 'ACK mean', color: css('--c4'), points: pts('ack_mean_ms') },
      { name: 'processing mean', color: css('--c3'), points: pts('processing_mean_ms') },
    ], { now });
    drawChart($('#chart-errors'), $('#legend-errors'), [
      { name: 'errors', color: css('--bad'), points: pts('errors') },
    ], { now, bars: true });
  }

  // --- the page --------------------------------------------------------------------------------
  function render(d) {
    lastData = d;
    $('#version').textContent = 'version ' + d.version;
    $('#uptime').textContent = age(d.uptime_seconds);
    for (const li of document.querySelectorAll('#health li')) {
      const ok = d.health[li.dataset.check];
      li.className = ok ? 'ok' : 'bad';
      li.title = ok ? 'OK' : 'not OK';
    }
    const t = d.totals, b = d.backlog, c = d.care;
    const latest = d.series.length ? d.series[d.series.length - 1] : null;
    setMetric('messages-total', num(t.messages));
    setMetric('messages-rate', latest ? rate(latest.messages_per_s) : '—');
    setMetric('rejected-total', num(t.rejected));
    setMetric('alerts-total', num(t.alerts));
    for (const r of ['high', 'moderate', 'low']) setMetric('alerts-' + r, num(c.alerts_by_risk[r]));
    setMetric('notifications-total', num(t.notifications_delivered));
    setMetric('notify-undelivered', num(b.notify_undelivered_events));
    setMetric('notify-oldest', age(b.notify_oldest_undelivered_age_seconds));
    setMetric('pipeline-pending', num(b.pipeline_pending));
    setMetric('pipeline-oldest', age(b.pipeline_oldest_age_seconds));
    setMetric('processed-total', num(t.processed));
    for (const m of ['linked', 'review', 'no_match']) setMetric('matches-' + m, num(c.matches[m]));
    setMetric('errors-total', num(d.errors.reduce((a, e) => a + e.count, 0)));
    setMetric('errors-hour', num(d.series.reduce((a, s) => a + s.errors, 0)));

    fillTable('senders', d.senders.map((s) => {
      const tr = document.createElement('tr');
      const stale = s.last_message_age_seconds !== null && s.last_message_age_seconds > 3600;
      tr.append(cell(s.name), countCell(s.accepted), countCell(s.rejected, true),
        countCell(s.duplicates), countCell(s.errored, true), countCell(s.conversion_errors, true),
        countCell(s.care_errors, true),
        cell(s.processing_mean_ms === null ? '—' : s.processing_mean_ms.toFixed(1) + ' ms', 'n'),
        cell(s.last_message_at === null ? '—' : age(s.last_message_age_seconds) + ' ago',
          stale ? 'warn' : ''));
      if (s.last_message_at) tr.lastChild.title = s.last_message_at;
      return tr;
    }), 'No messages yet.', 9);

    fillTable('subscriptions', d.subscriptions.map((s) => {
      const tr = document.createElement('tr');
      const st = cell('');
      const badge = document.createElement('span');
      badge.className = 'badge ' + s.status;
      badge.textContent = s.status;
      st.append(badge);
      const oldest = s.oldest_undelivered_age_seconds;
      const lastError = s.error || (s.last_error ? s.last_error : '');
      const le = cell(lastError || '—', lastError ? 'bad' : 'zero');
      if (s.last_error_at) le.title = 'last failed attempt ' + s.last_error_at;
      tr.append(cell(s.id), cell(s.group), st, countCell(s.events), countCell(s.backlog),
        cell(age(oldest), 'n' + (oldest > 300 ? ' warn' : '')), countCell(s.delivered),
        countCell(s.failed_attempts, true), countCell(s.retries), le);
      return tr;
    }), 'No subscriptions.', 10);

    fillTable('errors', d.errors.map((e) => {
      const tr = document.createElement('tr');
      tr.append(cell(e.kind.replaceAll('_', ' ')), countCell(e.count, true));
      return tr;
    }), 'No errors.', 2);

    drawCharts();
  }

  function setConnection(ok, text) {
    $('#conn').className = 'dot ' + (ok ? 'ok' : 'bad');
    $('#updated').textContent = text;
  }

  async function poll() {
    try {
      const r = await fetch('/status/data', { cache: 'no-store' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      render(await r.json());
      setConnection(true, 'updated ' + new Date().toLocaleTimeString());
      document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
    } catch (e) {
      setConnection(false, 'gateway unreachable — retrying (' + e.message + ')');
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  window.addEventListener('resize', drawCharts);
  poll();
})();
