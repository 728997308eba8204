// The npm `vnpay` package (2.5.0) as an independent oracle for the hub's VNPAY wire format.
// Reads one JSON request on stdin, writes one JSON answer on stdout. Operations:
//   verify-url  {config, url}          -> {isVerified, isSuccess, params}   (vnpay.verifyReturnUrl)
//   verify-ipn  {config, params}       -> {isVerified, isSuccess}           (vnpay.verifyIpnCall)
//   sign-ipn    {config, params}       -> {query, params}  (the library's own hashing: sorted
//                                          URLSearchParams, HMAC-SHA512 with the secure secret)
//   build-url   {config, data}         -> {url}                             (vnpay.buildPaymentUrl)
//   querydr     {config, query}        -> the library's queryDr result (a real HTTP call)
import { VNPay } from 'vnpay';
import { buildPaymentUrlSearchParams, calculateSecureHash } from 'vnpay/utils';

function vnpayOf(config) {
  return new VNPay({
    tmnCode: config.tmnCode,
    secureSecret: config.secureSecret,
    vnpayHost: config.vnpayHost ?? 'http://127.0.0.1',
    queryDrAndRefundHost: config.vnpayHost ?? 'http://127.0.0.1',
    hashAlgorithm: 'SHA512',
    enableLog: false,
    endpoints: {
      paymentEndpoint: 'paymentv2/vpcpay.html',
      queryDrRefundEndpoint: 'merchant_webapi/api/transaction',
    },
  });
}

async function handle(request) {
  const vnpay = vnpayOf(request.config);
  switch (request.op) {
    case 'verify-url': {
      const params = Object.fromEntries(new URL(request.url).searchParams);
      const result = vnpay.verifyReturnUrl(params);
      return { isVerified: result.isVerified, isSuccess: result.isSuccess, params };
    }
    case 'verify-ipn': {
      const result = vnpay.verifyIpnCall({ ...request.params });
      return { isVerified: result.isVerified, isSuccess: result.isSuccess };
    }
    case 'sign-ipn': {
      const search = buildPaymentUrlSearchParams(request.params);
      const hash = calculateSecureHash({
        secureSecret: request.config.secureSecret,
        data: search.toString(),
        hashAlgorithm: 'SHA512',
        bufferEncode: 'utf-8',
      });
      search.append('vnp_SecureHash', hash);
      return { query: search.toString(), params: Object.fromEntries(search) };
    }
    case 'build-url':
      return { url: vnpay.buildPaymentUrl(request.data) };
    case 'querydr':
      return await vnpay.queryDr(request.query);
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', async () => {
  try {
    process.stdout.write(JSON.stringify(await handle(JSON.parse(input))));
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error && error.stack || error) }));
    process.exitCode = 2;
  }
});
