// Owns the typed Config: defaults, flag/env parsing, validation. The only module that knows option
// names; it never reads process.env itself (the caller passes env in) and never starts anything.
export { loadConfig, parseDuration, prepareDbPath, PACKAGE_ROOT, type Config, type ListenAddress, type LogLevel } from './load-config.js'
export { OPTIONS, helpText, type OptionSpec } from './options.js'
// IP math moved to src/net; re-exported here until every importer uses src/net directly.
export { parseCidr, parseCidrList, cidrContains, inAnyCidr, ipToBigInt, normalizeIp, type Cidr } from '../net/index.js'
export { loadRoutesFile, parseRoutes, tagsForRoutes, type RouteRule, type RouteSubject } from './route-table.js'
