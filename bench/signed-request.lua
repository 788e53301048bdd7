-- bench/signed-request.lua: a wrk script that signs every request it sends with RFC 9421
-- hmac-sha256, as a client would: a fresh nonce and the current `created` per request, covering
-- @method and @target-uri; the HMAC through libcrypto (LuaJIT FFI), the same library Keyward uses.
--
--   BENCH_SIGN_KEYID=kwh_... BENCH_SIGN_SECRET_HEX=<hex> BENCH_SIGN_TARGET_URI=http://127.0.0.1:PORT/b/x \
--       wrk -s bench/signed-request.lua http://127.0.0.1:PORT/b/x
--
-- Every request is new to Keyward's replay cache (a nonce is never repeated), so the benchmark
-- pays for the cache's insert as real traffic would.
local ffi = require("ffi")

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const void *d, size_t n,
                    unsigned char *md, unsigned int *md_len);
int RAND_bytes(unsigned char *buf, int num);
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
]]

local ok, crypto = pcall(ffi.load, "crypto")
if not ok then crypto = ffi.load("libcrypto.so.3") end

local keyid = assert(os.getenv("BENCH_SIGN_KEYID"), "BENCH_SIGN_KEYID is not set")
local secret_hex = assert(os.getenv("BENCH_SIGN_SECRET_HEX"), "BENCH_SIGN_SECRET_HEX is not set")
local target_uri = assert(os.getenv("BENCH_SIGN_TARGET_URI"), "BENCH_SIGN_TARGET_URI is not set")
local secret = secret_hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end)

-- Standard base64 (RFC 4648 §4) through libcrypto too: the client's own cost stays small.
local encoded = ffi.new("unsigned char[64]")
local function base64(bytes, n)
    local len = crypto.EVP_EncodeBlock(encoded, bytes, n)
    return ffi.string(encoded, len)
end

-- A random prefix per wrk thread, then a counter: nonces never repeat across threads or runs.
local prefix
local counter = 0
local mac = ffi.new("unsigned char[32]")
local mac_len = ffi.new("unsigned int[1]")

function init(args)
    local r = ffi.new("unsigned char[12]")
    assert(crypto.RAND_bytes(r, 12) == 1, "RAND_bytes failed")
    prefix = base64(r, 12):gsub("[+/]", "-")
end

-- The request is written out directly (wrk.format would walk a header table per request): the
-- client's cost should be the signing, not Lua's string handling.
local head, sig_input_prefix
function request()
    if head == nil then
        local path = target_uri:match("^https?://[^/]+(/.*)$") or "/"
        head = "GET " .. path .. " HTTP/1.1\r\nHost: " .. (wrk.headers["Host"] or target_uri:match("^https?://([^/]+)")) .. "\r\n"
        sig_input_prefix = '("@method" "@target-uri");created='
    end
    counter = counter + 1
    local params = sig_input_prefix .. os.time() .. ';keyid="' .. keyid .. '";alg="hmac-sha256";nonce="' .. prefix .. counter .. '"'
    local base = '"@method": GET\n"@target-uri": ' .. target_uri .. '\n"@signature-params": ' .. params
    crypto.HMAC(crypto.EVP_sha256(), secret, #secret, base, #base, mac, mac_len)
    return head .. "Signature-Input: sig1=" .. params .. "\r\nSignature: sig1=:" .. base64(mac, 32) .. ":\r\n\r\n"
end
