/**
 * The testbed apps' pages. Every action ends by writing "ok <n>" into #status (set to "busy" as the action starts),
 * which is what a scenario's waitFor step watches; background work (feed polling, mail sync, telemetry beacons)
 * runs on timers as a real app's would and is what labeling must call impertinent when no action overlaps it.
 */

const COMMON = `
<div id="status">idle</div>
<script>
let done = 0;
const status = (s) => { document.getElementById('status').textContent = s; };
const ok = () => status('ok ' + (++done));
const fail = (e) => status('error ' + e);
const busy = () => status('busy');
// Telemetry beacons to a host no app rule names: background, always impertinent.
setInterval(() => fetch('https://telemetry.testbed:' + location.port + '/beacon', { method: 'POST', body: 'v=1&t=' + Date.now(), mode: 'no-cors' }).catch(() => {}), 7000);
const readFile = (input) => input.files[0] ? input.files[0].arrayBuffer() : Promise.resolve(new ArrayBuffer(0));
const origin = (host) => 'https://' + host + ':' + location.port;
// The app's script, from the CDN two apps share (a fixed file per app, fetched at every start: no cache).
const lib = (bytes) => fetch(origin('static.sharedcdn.testbed') + '/lib.js?size=' + bytes).then((r) => r.arrayBuffer()).catch(() => {});
</script>`;

const social = `<!doctype html><html><head><meta charset="utf-8"><title>Social</title></head><body>
<h1>Social</h1>
<textarea id="post-text"></textarea><button id="post-btn">Post</button>
<input id="photo-file" type="file"><button id="photo-btn">Post photo</button>
<textarea id="comment-text"></textarea><button id="comment-btn">Comment</button>
<div id="feed"></div>
${COMMON}
<script>
document.getElementById('post-btn').onclick = () => {
  busy();
  const text = document.getElementById('post-text').value;
  fetch('/api/posts', { method: 'POST', body: JSON.stringify({ text }), headers: { 'Content-Type': 'application/json' } })
    .then((r) => r.json()).then(() => { document.getElementById('post-text').value = ''; ok(); }, fail);
};
document.getElementById('photo-btn').onclick = () => {
  busy();
  readFile(document.getElementById('photo-file'))
    .then((b) => fetch(origin('upload.social.testbed') + '/api/photos', { method: 'POST', body: b }))
    .then((r) => r.json()).then(ok, fail);
};
document.getElementById('comment-btn').onclick = () => {
  busy();
  const text = document.getElementById('comment-text').value;
  fetch('/api/comments', { method: 'POST', body: JSON.stringify({ post: Math.floor(Math.random() * 100), text }), headers: { 'Content-Type': 'application/json' } })
    .then((r) => r.json()).then(() => { document.getElementById('comment-text').value = ''; ok(); }, fail);
};
// A feed page, then its images from the app's own CDN, six at a time as a browser fetches them.
const feed = () => fetch('/api/feed').then((r) => r.json()).then(async (f) => {
  document.getElementById('feed').textContent = f.posts.length + ' posts';
  for (let i = 0; i < f.posts.length; i += 6) {
    await Promise.all(f.posts.slice(i, i + 6).map((p) => fetch(origin('img.socialcdn.testbed') + '/img?size=' + p.image).then((r) => r.arrayBuffer())));
  }
}).catch(() => {});
lib(180000);
feed();
setInterval(feed, 20000);
</script></body></html>`;

const video = `<!doctype html><html><head><meta charset="utf-8"><title>Video</title></head><body>
<h1>Video</h1>
<button id="play-btn">Play</button>
<textarea id="comment-text"></textarea><button id="comment-btn">Comment</button>
${COMMON}
<script>
lib(240000);
// Playback like DASH/HLS: a manifest, the thumbnail from the shared CDN, then the segments one after another from
// the video CDN, each at the highest rung under 80 % of the throughput the previous segment came at (shapes.ts).
document.getElementById('play-btn').onclick = async () => {
  busy();
  try {
    const m = await (await fetch('/api/manifest')).json();
    await (await fetch(origin('static.sharedcdn.testbed') + '/thumb?size=' + m.thumb)).arrayBuffer();
    let rung = m.startRung;
    for (let i = 0; i < m.segments; i++) {
      const t0 = performance.now();
      const b = await (await fetch(origin('rr1.videoplayback.testbed') + '/seg?video=' + m.video + '&rung=' + rung + '&n=' + i)).arrayBuffer();
      const kbps = (b.byteLength * 8) / Math.max(1, performance.now() - t0);
      rung = 0;
      while (rung < m.maxRung && m.ladderKbps[rung + 1] < 0.8 * kbps) rung++;
    }
    ok();
  } catch (e) { fail(e); }
};
document.getElementById('comment-btn').onclick = () => {
  busy();
  const text = document.getElementById('comment-text').value;
  fetch('/api/comments', { method: 'POST', body: JSON.stringify({ text }), headers: { 'Content-Type': 'application/json' } })
    .then((r) => r.json()).then(() => { document.getElementById('comment-text').value = ''; ok(); }, fail);
};
</script></body></html>`;

const chat = `<!doctype html><html><head><meta charset="utf-8"><title>Chat</title></head><body>
<h1>Chat</h1>
<textarea id="msg-text"></textarea><button id="send-btn">Send</button>
<input id="image-file" type="file"><button id="image-btn">Send image</button>
${COMMON}
<script>
// One long-lived WebSocket (the server pings it as a keep-alive); media go to a second host, as WhatsApp's do.
let ws;
let nextId = 1;
const waiting = new Map();
const connect = () => {
  ws = new WebSocket('wss://chat.testbed:' + location.port + '/ws');
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    // A contact's message: a read receipt goes back, as messengers send them.
    if (m.type === 'message') { ws.send(JSON.stringify({ type: 'read', id: m.id })); return; }
    const f = waiting.get(m.id);
    if (f) { waiting.delete(m.id); f(); }
  };
  ws.onclose = () => setTimeout(connect, 1000);
};
connect();
const send = (m) => new Promise((resolve) => { const id = nextId++; waiting.set(id, resolve); ws.send(JSON.stringify({ ...m, id })); });
document.getElementById('send-btn').onclick = () => {
  busy();
  const text = document.getElementById('msg-text').value;
  send({ type: 'text', text }).then(() => { document.getElementById('msg-text').value = ''; ok(); }, fail);
};
document.getElementById('image-btn').onclick = () => {
  busy();
  readFile(document.getElementById('image-file'))
    .then((b) => fetch('https://media.chat.testbed:' + location.port + '/api/media', { method: 'POST', body: b }))
    .then((r) => r.json()).then((j) => send({ type: 'image', media: j.id })).then(ok, fail);
};
</script></body></html>`;

const mail = `<!doctype html><html><head><meta charset="utf-8"><title>Mail</title></head><body>
<h1>Mail</h1>
<ul id="inbox"></ul><button id="read-btn">Open newest</button>
<input id="mail-to"><input id="mail-subject"><textarea id="mail-body"></textarea><button id="mail-send">Send</button>
${COMMON}
<script>
const inbox = () => fetch('/api/inbox').then((r) => r.json()).then((j) => { document.getElementById('inbox').textContent = j.mails.length + ' mails'; }).catch(() => {});
inbox();
setInterval(() => fetch('/api/sync').catch(() => {}), 30000);
document.getElementById('read-btn').onclick = () => {
  busy();
  fetch('/api/mail?id=' + Math.floor(Math.random() * 1000)).then((r) => r.json())
    .then((m) => m.attachment > 0 ? fetch(origin('attachments.mail.testbed') + '/att?size=' + m.attachment).then((r) => r.arrayBuffer()) : null)
    .then(ok, fail);
};
document.getElementById('mail-send').onclick = () => {
  busy();
  const m = { to: document.getElementById('mail-to').value, subject: document.getElementById('mail-subject').value, body: document.getElementById('mail-body').value };
  fetch('/api/send', { method: 'POST', body: JSON.stringify(m), headers: { 'Content-Type': 'application/json' } })
    .then((r) => r.json()).then(() => { document.getElementById('mail-body').value = ''; ok(); }, fail);
};
</script></body></html>`;

export const PAGES = { social, video, chat, mail } as const;
