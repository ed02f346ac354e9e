// Owns message analysis run by the indexer after commit: SPF/DKIM/DMARC/ARC at ingress, DSN/ARF/
// autoreply classification, ARF report drafts and SPF linting. Never sends mail, never changes raw bytes.
export { createAuthAnalyser, type AuthAnalyserOptions, type AuthResults, type AuthResultWord } from './auth.js'
export { createDnsResolver, type DnsResolve, type DnsResolverOptions } from './dns-resolver.js'
export { parseReceivedFrom, clientFromReceived, isPublicIp, type ReceivedFrom } from './received.js'
export { contentAnalyser, analyseContent, type ContentAnalysis, type FeedbackReport, type MessageKind } from './content.js'
export type { BounceReport, BounceRecipient, OriginalMessage } from './dsn.js'
export { generateArfReport, type ArfReportOptions } from './arf-report.js'
export { lintSpf, SPF_LINT_BUDGET_MS, type SpfLintOptions, type SpfLintResult, type SpfProblem } from './spf-lint.js'
