import Foundation

extension Vault {
    /// Lists audit events, newest first.
    public func auditEvents(_ filter: AuditFilter) throws(VaultError) -> [AuditRecord] {
        try withConnection { connection in try audit.list(filter, on: connection) }
    }

    /// Walks every audit chain.
    public func verifyAuditTrail() throws(VaultError) -> AuditVerification {
        try mapErrors { try audit.verify(pool: pool) }
    }
}
