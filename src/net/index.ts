// Owns IP address and range math shared by config, smtp, store and mail (trusted relays, ip:
// search terms, route rules, the SPF client IP). No I/O; ipaddr.js does the parsing.
export { parseCidr, parseCidrList, cidrContains, inAnyCidr, ipToBigInt, normalizeIp, type Cidr } from './ip-range.js'
