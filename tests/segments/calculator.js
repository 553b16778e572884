// Twilio's segment calculator (npm sms-segments-calculator) on pyrowire's corpus, for
// tests/segments.rs. Reads a JSON array of texts from the file named on the command line and
// prints one JSON document: for each text its encoding and segment count, plain and with Smart
// Encoding; with a second argument `tables`, also the calculator's Smart Encoding table and the
// BMP code points it takes as GSM-7.
'use strict';
const fs = require('fs');
const { SegmentedMessage } = require('sms-segments-calculator');
const smartMap = require('sms-segments-calculator/dist/libs/SmartEncodingMap.js').default;

const texts = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const count = (text, smart) => {
  const message = new SegmentedMessage(text, 'auto', smart);
  return [message.encodingName, message.segmentsCount];
};
// Smart Encoding changes nothing in a text without a character of its table: the plain count
// stands (the calculator takes ~5 ms for a long text, so it is not asked twice).
const changedBySmart = (text) => [...text].some((char) => smartMap[char] !== undefined);
const results = texts.map((text) => {
  const plain = count(text, false);
  return { plain, smart: changedBySmart(text) ? count(text, true) : plain };
});

const answer = { results };
if (process.argv[3] === 'tables') {
  answer.smart_map = smartMap;
  answer.gsm = [];
  for (let code = 0; code <= 0xffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    if (new SegmentedMessage(String.fromCharCode(code)).encodingName === 'GSM-7') answer.gsm.push(code);
  }
}
process.stdout.write(JSON.stringify(answer));
