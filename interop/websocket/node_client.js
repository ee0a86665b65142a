// MQTT.js in Node against an MQTT broker over WebSockets, for interop/run.sh.
//
// node node_client.js --url ws://127.0.0.1:PORT/mqtt --sub TOPIC --echo TOPIC
//                     [--expect PAYLOAD | --expect-file FILE] [--ca FILE]
//                     [--protocol-version 3|4|5] [--timeout SECONDS]
// node node_client.js --url wss://... --expect-refused
//
// Connects, subscribes to --sub at QoS 1 and prints "subscribed"; the
// harness then publishes one message there (midge pub). The payload must be
// --expect (or the content of --expect-file); the client answers on --echo
// with "echo <length> bytes" at QoS 1, prints "ok" and exits 0. Any error,
// or no message within the timeout, exits 1 with the reason on stderr.
// --expect-refused: the connection must fail (an untrusted certificate).
'use strict'

const fs = require('fs')
const mqtt = require('mqtt')

function parseArgs (argv) {
  const args = { protocolVersion: 4, timeout: 10 }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`)
      return argv[++i]
    }
    switch (flag) {
      case '--url': args.url = value(); break
      case '--ca': args.ca = value(); break
      case '--sub': args.sub = value(); break
      case '--echo': args.echo = value(); break
      case '--expect': args.expect = Buffer.from(value()); break
      case '--expect-file': args.expect = fs.readFileSync(value()); break
      case '--protocol-version': args.protocolVersion = Number(value()); break
      case '--timeout': args.timeout = Number(value()); break
      case '--expect-refused': args.expectRefused = true; break
      default: fail(`unknown argument ${flag}`)
    }
  }
  if (!args.url) fail('--url is required')
  if (!args.expectRefused && (!args.sub || !args.echo || !args.expect)) {
    fail('--sub, --echo and --expect or --expect-file are required')
  }
  return args
}

function fail (why) {
  process.stderr.write(`node_client: ${why}\n`)
  process.exit(1)
}

const args = parseArgs(process.argv.slice(2))
const options = {
  protocolVersion: args.protocolVersion,
  clientId: `mqttjs-${process.pid}-${Date.now() % 100000}`,
  reconnectPeriod: 0, // one try: a failure is a result
  connectTimeout: args.timeout * 1000
}
if (args.protocolVersion === 3) options.protocolId = 'MQIsdp' // subprotocol mqttv3.1
if (args.ca) options.ca = fs.readFileSync(args.ca)

const timer = setTimeout(() => fail(`nothing happened within ${args.timeout}s`), args.timeout * 1000)
const client = mqtt.connect(args.url, options)

// refused reports the expected refusal and exits.
function refused (why) {
  console.log(`refused as expected: ${why}`)
  process.exit(0)
}

client.on('error', (err) => {
  if (args.expectRefused) refused(err.message)
  fail(`${args.url}: ${err.message}`)
})

client.on('connect', () => {
  if (args.expectRefused) fail(`${args.url}: connected, but the connection should have been refused`)
  client.subscribe(args.sub, { qos: 1 }, (err, granted) => {
    if (err) fail(`subscribe: ${err.message}`)
    if (!granted || granted.length !== 1 || granted[0].qos !== 1) fail(`subscribe: granted ${JSON.stringify(granted)}`)
    console.log('subscribed')
  })
})

client.on('message', (topic, payload) => {
  console.log(`received ${topic} (${payload.length} bytes)`)
  if (topic !== args.sub) fail(`message on ${topic}, want ${args.sub}`)
  if (!payload.equals(args.expect)) {
    fail(`payload of ${payload.length} bytes differs from the ${args.expect.length} expected`)
  }
  client.publish(args.echo, `echo ${payload.length} bytes`, { qos: 1 }, (err) => {
    if (err) fail(`publish: ${err.message}`)
    clearTimeout(timer)
    client.end(false, () => {
      console.log('ok')
      process.exit(0)
    })
  })
})

client.on('close', () => {
  if (args.expectRefused) refused('the connection closed before CONNACK')
  if (!client.disconnecting) fail('the connection closed')
})
