// The demo storefront page (demo.html): hands the widget its settings and the demo customer's token.
const params = new URLSearchParams(location.search);
const widget = document.getElementById('rewards');
const config = await (await fetch('/config.json')).json();
// Tests (and developers) may hand the page a token of their own: /demo?token=...
const token = params.get('token') || (await (await fetch('/demo/token', { method: 'POST' })).json()).token;
widget.setAttribute('api', config.gatewayUrl);
widget.setAttribute('live', config.liveUrl);
if (params.get('lang')) widget.setAttribute('lang', params.get('lang'));
widget.setAttribute('token', token);
document.querySelectorAll('[data-lang]').forEach((b) => b.addEventListener('click', () => {
  widget.setAttribute('lang', b.dataset.lang);
  document.documentElement.lang = b.dataset.lang;
}));
