import ImageCore

/// The web pages, their script and style, served by the app itself (no CDN:
/// the machine may be offline).
enum Pages {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A page and the nonce its inline script carries (see ``Respond/page(_:)``).
    static func page(title: String, body: String, script: String) -> (html: String, nonce: String) {
        var rng = SystemRandomNumberGenerator()
        let nonce = String(rng.next() as UInt64, radix: 36) + String(rng.next() as UInt64, radix: 36)
        return ("""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <link rel="stylesheet" href="/static/style.css">
        </head><body>
        <header><a href="/" class="brand">imgproc</a> <span class="tag">distributed image processing</span></header>
        <main>\(body)</main>
        <script src="/static/app.js"></script>
        <script nonce="\(nonce)">\(script)</script>
        </body></html>
        """, nonce)
    }

    /// The operations as JSON for the pipeline builder.
    static var catalogJSON: String {
        let ops = OperationInfo.all.map { info in
            let params = info.parameters.map { p in
                "{\"name\":\"\(p.name)\",\"default\":\(p.defaultValue.map { "\"\($0)\"" } ?? "null"),\"help\":\"\(escape(p.help))\"}"
            }.joined(separator: ",")
            return "{\"name\":\"\(info.name)\",\"summary\":\"\(escape(info.summary))\",\"params\":[\(params)]}"
        }
        return "[" + ops.joined(separator: ",") + "]"
    }

    static var home: (html: String, nonce: String) {
        let rows = OperationInfo.all.map { info in
            "<tr><td><code>\(escape(info.usage))</code></td><td>\(escape(info.summary))</td><td>"
                + info.parameters.map { "<b>\($0.name)</b>: \(escape($0.help))\($0.defaultValue.map { " (default \($0))" } ?? " (required)")" }
                    .joined(separator: "<br>") + "</td></tr>"
        }.joined()
        return page(title: "imgproc", body: """
            <section class="card">
              <h1>Process images</h1>
              <form id="upload">
                <label>Images (PNG, JPEG, WebP or AVIF, several at once)<input type="file" id="files" name="file" accept="image/png,image/jpeg,image/webp,image/avif" multiple required></label>
                <fieldset class="builder"><legend>Pipeline</legend>
                  <div class="row"><select id="op"></select><span id="args"></span><button type="button" id="add">Add</button><button type="button" id="clear">Clear</button></div>
                  <p id="ophelp" class="muted"></p>
                  <label>Pipeline text<input id="ops" name="ops" value="grayscale,blur:1.5,canny:50:150" required></label>
                </fieldset>
                <fieldset class="builder"><legend>Result</legend>
                  <div class="row">
                    <label>Format <select id="format" name="format"><option value="source" selected>as uploaded</option><option value="png">PNG</option><option value="jpeg">JPEG</option><option value="webp">WebP</option><option value="avif">AVIF</option><option value="auto">AVIF or WebP if the browser takes it</option></select></label>
                    <label>Quality (JPEG, WebP, AVIF) <input id="quality" name="quality" type="number" min="1" max="100" value="90"></label>
                    <label>PNG level (0 fastest, 9 smallest) <input id="png_level" name="png_level" type="number" min="0" max="9" value="1"></label>
                    <label><input id="autorotate" name="autorotate" type="checkbox" checked> Upright by EXIF orientation</label>
                    <label><input id="keep_metadata" name="keep_metadata" type="checkbox"> Keep EXIF and XMP (GPS too)</label>
                    <label><input id="srgb" name="srgb" type="checkbox"> Convert to sRGB</label>
                  </div>
                </fieldset>
                <button type="submit" id="send">Upload and process</button>
                <p id="message" class="message"></p>
              </form>
            </section>
            <section class="card"><h2>Recent jobs</h2><ul id="recent" class="jobs"><li class="muted">loading…</li></ul></section>
            <section class="card"><h2>Operations</h2><table class="ops"><tr><th>usage</th><th>what it does</th><th>parameters</th></tr>\(rows)</table></section>
            """, script: "imgproc.home(\(catalogJSON));")
    }

    static func job(_ id: String) -> (html: String, nonce: String) {
        page(title: "imgproc job \(id)", body: """
            <section class="card">
              <h1>Job <code>\(escape(id))</code></h1>
              <p id="status" class="status">loading…</p>
              <div class="bar"><div id="bar"></div></div>
              <p id="details" class="muted"></p>
              <p id="error" class="message"></p>
              <p><a id="download" class="button hidden" download>Download result</a></p>
            </section>
            <section class="card"><h2>Tiles by rank</h2><canvas id="tiles" width="480" height="320"></canvas><p id="legend" class="legend"></p></section>
            <section class="card compare">
              <figure><figcaption>Before</figcaption><img id="before" alt="original"></figure>
              <figure><figcaption>After</figcaption><img id="after" alt="result (when done)"></figure>
            </section>
            """, script: "imgproc.job(\"\(escape(id))\");")
    }

    static let style = """
        :root { --ink: #1d232b; --muted: #6b7683; --line: #dfe3e8; --accent: #2563eb; --bad: #b42318; --bg: #f6f7f9; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, Segoe UI, sans-serif; color: var(--ink); background: var(--bg); }
        header { padding: 12px 24px; background: #111827; color: #fff; }
        header .brand { color: #fff; font-weight: 700; text-decoration: none; font-size: 18px; }
        header .tag { color: #9ca3af; margin-left: 8px; }
        main { max-width: 1000px; margin: 0 auto; padding: 16px; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
        h1 { font-size: 22px; margin: 0 0 12px; } h2 { font-size: 17px; margin: 0 0 10px; }
        label { display: block; margin: 10px 0; color: var(--muted); }
        input, select, button { font: inherit; }
        input[type=text], input:not([type]), #ops { width: 100%; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; color: var(--ink); }
        fieldset { border: 1px solid var(--line); border-radius: 6px; }
        .row { display: flex; gap: 6px; flex-wrap: wrap; align-items: center; }
        .row input { width: 90px; padding: 6px; border: 1px solid var(--line); border-radius: 6px; }
        button, .button { background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: 8px 14px; cursor: pointer; text-decoration: none; display: inline-block; }
        button[type=button] { background: #e5e7eb; color: var(--ink); }
        .muted { color: var(--muted); } .message { color: var(--bad); min-height: 1.2em; }
        .hidden { display: none; }
        .bar { height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; }
        .bar div { height: 100%; width: 0; background: var(--accent); transition: width .2s; }
        .status { font-weight: 600; }
        .jobs { list-style: none; padding: 0; margin: 0; } .jobs li { padding: 5px 0; border-bottom: 1px solid var(--line); }
        .jobs code { font-size: 12px; }
        table.ops { border-collapse: collapse; width: 100%; } .ops td, .ops th { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
        .compare { display: flex; gap: 16px; flex-wrap: wrap; } .compare figure { flex: 1 1 300px; margin: 0; }
        .compare img { max-width: 100%; border: 1px solid var(--line); background: repeating-conic-gradient(#eee 0 25%, #fff 0 50%) 0 0/16px 16px; }
        .legend span { display: inline-block; margin-right: 12px; } .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; }
        canvas { max-width: 100%; border: 1px solid var(--line); }
        """

    static let script = """
        const imgproc = (() => {
          const token = () => localStorage.getItem('imgprocToken');
          async function api(path, options = {}) {
            options.headers = Object.assign({}, options.headers || {});
            if (token()) options.headers['Authorization'] = 'Bearer ' + token();
            let r = await fetch(path, options);
            if (r.status === 401) {
              const t = prompt('This server needs an access token:');
              if (t) { localStorage.setItem('imgprocToken', t); return api(path, options); }
            }
            return r;
          }
          async function errorText(r) {
            try { const j = await r.json(); return j.message || j.error; } catch (e) { return r.status + ' ' + r.statusText; }
          }
          const colors = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#ca8a04'];
          function home(catalog) {
            const op = document.getElementById('op'), args = document.getElementById('args'), help = document.getElementById('ophelp');
            const ops = document.getElementById('ops');
            for (const o of catalog) { const e = document.createElement('option'); e.value = o.name; e.textContent = o.name; op.appendChild(e); }
            function showArgs() {
              const o = catalog.find(c => c.name === op.value);
              args.innerHTML = '';
              for (const p of o.params) {
                const i = document.createElement('input'); i.placeholder = p.name; i.title = p.help; i.value = p.default || '';
                args.appendChild(i);
              }
              help.textContent = o.summary + (o.params.length ? ' ' + o.params.map(p => p.name + ': ' + p.help).join('; ') : '');
            }
            op.onchange = showArgs; showArgs();
            document.getElementById('add').onclick = () => {
              const values = [...args.querySelectorAll('input')].map(i => i.value.trim());
              while (values.length && values[values.length - 1] === '') values.pop();
              const token = [op.value, ...values].join(':');
              ops.value = ops.value.trim() ? ops.value.trim() + ',' + token : token;
            };
            document.getElementById('clear').onclick = () => { ops.value = ''; };
            document.getElementById('upload').onsubmit = async (ev) => {
              ev.preventDefault();
              const msg = document.getElementById('message'), send = document.getElementById('send');
              const form = new FormData();
              form.append('ops', ops.value);
              form.append('format', document.getElementById('format').value);
              form.append('quality', document.getElementById('quality').value);
              form.append('png_level', document.getElementById('png_level').value);
              form.append('autorotate', document.getElementById('autorotate').checked ? 'true' : 'false');
              if (document.getElementById('srgb').checked) form.append('colorspace', 'srgb');
              form.append('keep_metadata', document.getElementById('keep_metadata').checked ? 'true' : 'false');
              for (const f of document.getElementById('files').files) form.append('file', f, f.name);
              msg.textContent = ''; send.disabled = true; send.textContent = 'Uploading…';
              try {
                const r = await api('/api/jobs', { method: 'POST', body: form });
                if (r.status !== 202) { msg.textContent = await errorText(r); return; }
                const j = await r.json();
                if (j.jobs.length === 1) { location.href = j.jobs[0].page_url; return; }
                msg.style.color = 'inherit';
                msg.innerHTML = j.jobs.map(x => '<a href="' + x.page_url + '">' + x.id + '</a>').join('<br>');
                recent();
              } catch (e) { msg.textContent = 'Upload failed: ' + e; }
              finally { send.disabled = false; send.textContent = 'Upload and process'; }
            };
            async function recent() {
              const list = document.getElementById('recent');
              const r = await api('/api/jobs');
              if (!r.ok) { list.innerHTML = '<li class="muted">' + await errorText(r) + '</li>'; return; }
              const j = await r.json();
              list.innerHTML = j.jobs.length ? '' : '<li class="muted">no jobs yet</li>';
              for (const x of j.jobs) {
                const li = document.createElement('li');
                li.innerHTML = '<a href="' + x.page_url + '"><code>' + x.id + '</code></a> ' + x.status + ' — ' + x.progress.done + '/' + x.progress.total + ' tiles — <span class="muted"></span>';
                li.querySelector('span').textContent = x.ops;
                list.appendChild(li);
              }
            }
            recent();
          }
          async function loadImage(img, path) {
            const r = await api(path);
            if (!r.ok) return false;
            img.src = URL.createObjectURL(await r.blob());
            return true;
          }
          function job(id) {
            const base = '/api/jobs/' + id;
            let shown = false;
            loadImage(document.getElementById('before'), base + '/source');
            function draw(j) {
              const done = j.progress.done, total = j.progress.total;
              document.getElementById('status').textContent = j.status + (j.status === 'running' || j.status === 'queued' ? ' — ' + done + '/' + total + ' tiles' : '');
              document.getElementById('bar').style.width = (j.status === 'done' ? 100 : total ? 100 * done / total : 0) + '%';
              const t = j.timings_ms || {};
              document.getElementById('details').textContent = j.ops + ' · ' + (j.input ? j.input.width + '×' + j.input.height : '') +
                (j.output ? ' → ' + j.output.width + '×' + j.output.height : '') + (j.stages > 1 ? ' · stage ' + (j.stage + 1) + ' of ' + j.stages : '') +
                (j.world ? ' · ' + j.world + ' rank(s)' : '') + (j.attempts > 1 ? ' · attempt ' + j.attempts : '') + (t.total ? ' · ' + t.total + ' ms' : '');
              document.getElementById('error').textContent = j.error || '';
              if (j.tiles) {
                const c = document.getElementById('tiles'), g = c.getContext('2d');
                // Cells keep the image's shape: squares for square tiles, bands for strips.
                const out = j.output || {width: j.tiles.columns, height: j.tiles.rows};
                const scale = Math.min(480 / out.width, 320 / out.height);
                const cw = Math.max(2, Math.floor(out.width * scale / j.tiles.columns));
                const ch = Math.max(2, Math.floor(out.height * scale / j.tiles.rows));
                c.width = cw * j.tiles.columns; c.height = ch * j.tiles.rows;
                const seen = new Set();
                j.tiles.ranks.forEach((rank, i) => {
                  g.fillStyle = rank < 0 ? '#e5e7eb' : colors[rank % colors.length];
                  g.fillRect((i % j.tiles.columns) * cw, Math.floor(i / j.tiles.columns) * ch, cw - 1, ch - 1);
                  if (rank >= 0) seen.add(rank);
                });
                // Built as nodes: the page's policy allows no inline style attributes.
                const legend = document.getElementById('legend');
                legend.replaceChildren(...[...seen].sort().map(r => {
                  const span = document.createElement('span'), swatch = document.createElement('i');
                  swatch.style.background = colors[r % colors.length];
                  span.append(swatch, 'rank ' + r);
                  return span;
                }));
              }
              if (j.status === 'done' && !shown) {
                shown = true;
                loadImage(document.getElementById('after'), base + '/result');
                const a = document.getElementById('download');
                a.href = base + '/result'; a.classList.remove('hidden');
              }
            }
            async function poll() {
              const r = await api(base);
              if (!r.ok) { document.getElementById('status').textContent = await errorText(r); return; }
              const j = await r.json(); draw(j);
              if (j.status !== 'done' && j.status !== 'failed') setTimeout(poll, 500);
            }
            if (token() || !window.EventSource) { poll(); return; }
            const es = new EventSource(base + '/events');
            es.addEventListener('progress', e => draw(JSON.parse(e.data)));
            es.addEventListener('done', e => { draw(JSON.parse(e.data)); es.close(); });
            es.onerror = () => { es.close(); poll(); };
          }
          return { home, job };
        })();
        """
}
