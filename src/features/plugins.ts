import type { FlowPlugin } from '../flow/flow.js';
import { afterHandshakePlugin } from './after-handshake.js';
import { deviceAppPlugin } from './device-app.js';
import { dnsPlugin } from './dns/plugin.js';
import { packetStatsPlugin } from './packet-stats.js';
import { type PluginOptions, flowPlugins, pluginGroups, registerPlugin } from './registry.js';
import { DEFAULT_BYTE_DIST_BYTES, DEFAULT_SPLT_PACKETS, byteDistPlugin, sequencePlugin } from './sequence.js';
import { seriesPlugin } from './series.js';
import { tcpStatsPlugin } from './tcp-stats.js';
import { tlsPlugin } from './tls/plugin.js';

/**
 * The built-in feature plugins, registered in column order. Importing this module (every metering entry point does)
 * registers them; a plugin of one's own is registered the same way from its own module (docs/architecture.md).
 */

const asPlugin = <S>(p: FlowPlugin<S>): FlowPlugin => p as FlowPlugin;

registerPlugin({ builtin: true, name: 'packet-stats', description: 'direction-based length and inter-arrival statistics', defaultOn: true, always: true, create: () => asPlugin(packetStatsPlugin) });
registerPlugin({ builtin: true, name: 'tcp', description: 'TCP flag counts and handshake options (MSS, window scale, initial window)', defaultOn: true, create: () => asPlugin(tcpStatsPlugin) });
registerPlugin({ builtin: true, name: 'tls', description: 'TLS and QUIC handshakes: versions, ciphers, SNI, ALPN, key shares, JA3/JA4, certificate', defaultOn: true, create: () => asPlugin(tlsPlugin) });
registerPlugin({ builtin: true, name: 'dns', description: 'DNS questions and answers; dns_host names later flows by a capture-wide answer map', defaultOn: true, create: () => asPlugin(dnsPlugin()) });
registerPlugin({ builtin: true, name: 'splt', description: 'signed lengths and gaps of the first --splt packets', defaultOn: true, create: (o: PluginOptions) => asPlugin(sequencePlugin(o.spltPackets ?? DEFAULT_SPLT_PACKETS)) });
registerPlugin({ builtin: true, name: 'bytes', description: 'byte-value distribution and entropy of the first --byte-dist-bytes payload bytes', defaultOn: true, create: (o: PluginOptions) => asPlugin(byteDistPlugin(o.byteDistBytes ?? DEFAULT_BYTE_DIST_BYTES)) });
registerPlugin({ builtin: true, name: 'device', description: "the sending app as the device recorded it (PCAPdroid's uid, package and name; PKTAP's process)", defaultOn: true, create: () => asPlugin(deviceAppPlugin) });
registerPlugin({ builtin: true, name: 'after-handshake', description: 'the packet statistics and first --splt packets again, from the first packet of application data on (evaluate --after-handshake)', defaultOn: false, create: (o: PluginOptions) => asPlugin(afterHandshakePlugin(o.spltPackets ?? DEFAULT_SPLT_PACKETS)) });
registerPlugin({ builtin: true, name: 'series', description: "the paper's LSTM input (768 numbers a record)", defaultOn: false, create: () => asPlugin(seriesPlugin()) });

/** The built-in groups on by default (`--features`); the packet statistics are always on. */
export const FEATURE_GROUPS: readonly string[] = pluginGroups('default');
/** Built-in groups only on request: `after-handshake` (the shortcut control) and `series` (the LSTM input, 768 numbers a record). */
export const OPTIONAL_GROUPS: readonly string[] = pluginGroups('optional');
/** `--features all` of the built-ins. */
export const ALL_GROUPS: readonly string[] = [...FEATURE_GROUPS, ...OPTIONAL_GROUPS];

/**
 * The default plugins' columns. Plugins with capture-wide state (the DNS name map) must be made anew per capture,
 * so the meter calls flowPlugins() itself when none are given.
 */
export const DEFAULT_PLUGINS: readonly FlowPlugin[] = flowPlugins();

export { flowPlugins, groupsForColumns, pluginModules, registerPlugin, type PluginEntry, type PluginOptions } from './registry.js';
