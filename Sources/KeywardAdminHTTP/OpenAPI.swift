/// The OpenAPI 3.1 description of the admin API, served at `/admin/api/openapi.json`:
/// `Resources/admin-openapi.json` (also `docs/admin-openapi.json`), embedded in the binary by
/// SwiftPM at build time, so there is no generated copy to keep in step.
enum OpenAPI {
    /// The document, byte for byte.
    static var document: [UInt8] { PackageResources.admin_openapi_json }
}
