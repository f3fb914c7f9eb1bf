// The page script of tests/interop/browser_ofrep.mjs, bundled by esbuild into one IIFE and
// served from another origin than riskd's: @openfeature/web-sdk 1.10.0 with
// @openfeature/ofrep-web-provider 0.4.3, configured to learn about changes from the server's
// event stream only (pollInterval 0, changeDetection 'sse', no persisted cache, no refetch on
// visibility). The test drives it through window.ofrep:
//   await ofrep.start(baseUrl, context)  -> {status, error?}   (setProviderAndWait)
//   ofrep.evaluate(specs)                -> [{key, value, variant, reason, errorCode}]
//   await ofrep.setContext(context)
//   ofrep.events                         every provider event with its Date.now()
//   ofrep.watchStream(url)               a plain EventSource beside the provider's
//   ofrep.streamMessages                 what that EventSource received
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const events = [];
const logs = [];
const streamMessages = [];
const logger = {
  error: (...a) => logs.push(`error ${a.join(' ')}`),
  warn: (...a) => logs.push(`warn ${a.join(' ')}`),
  info: (...a) => logs.push(`info ${a.join(' ')}`),
  debug: (...a) => logs.push(`debug ${a.join(' ')}`),
};
let client = null;
// The key whose value the test waits for, read at the moment of each event: the page "sees"
// a change when its handler runs and the client already answers the new value.
let watchKey = null;
let watchDefault = null;

function details(key, type, def) {
  switch (type) {
    case 'boolean': return client.getBooleanDetails(key, def);
    case 'string': return client.getStringDetails(key, def);
    case 'number': return client.getNumberDetails(key, def);
    default: return client.getObjectDetails(key, def);
  }
}

function record(type) {
  return (d) => {
    const e = { type, t: Date.now(), message: d?.message ?? null, flagsChanged: d?.flagsChanged ?? null };
    if (watchKey) e.watched = client.getStringValue(watchKey, watchDefault);
    events.push(e);
  };
}

window.ofrep = {
  events,
  logs,
  streamMessages,
  async start(baseUrl, context) {
    client = OpenFeature.getClient();
    for (const [name, ev] of [['ready', ProviderEvents.Ready], ['error', ProviderEvents.Error],
      ['stale', ProviderEvents.Stale], ['changed', ProviderEvents.ConfigurationChanged]]) {
      client.addHandler(ev, record(name));
    }
    const provider = new OFREPWebProvider({
      baseUrl,
      pollInterval: 0,
      changeDetection: 'sse',
      cacheMode: 'disabled',
      disableVisibilityRefresh: true,
    }, logger);
    await OpenFeature.setContext(context);
    try {
      await OpenFeature.setProviderAndWait(provider);
      return { status: client.providerStatus };
    } catch (e) {
      return { status: client.providerStatus, error: String(e && e.message ? e.message : e) };
    }
  },
  evaluate(specs) {
    return specs.map(({ key, type, def }) => {
      const d = details(key, type, def);
      return { key, value: d.value, variant: d.variant ?? null, reason: d.reason ?? null, errorCode: d.errorCode ?? null };
    });
  },
  async setContext(context) {
    await OpenFeature.setContext(context);
  },
  watch(key, def) {
    watchKey = key;
    watchDefault = def;
  },
  status() {
    return client ? client.providerStatus : null;
  },
  watchStream(url) {
    return new Promise((resolve) => {
      const es = new EventSource(url);
      es.onopen = () => resolve({ open: true });
      es.onmessage = (m) => streamMessages.push({ t: Date.now(), data: m.data });
      es.onerror = () => {
        streamMessages.push({ t: Date.now(), error: true, readyState: es.readyState });
        if (es.readyState === EventSource.CLOSED) resolve({ open: false, readyState: es.readyState });
      };
    });
  },
};
