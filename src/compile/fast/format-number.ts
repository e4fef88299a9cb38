/**
 * `$formatNumber(value, picture, options?)`: jsonata's formatNumber (XPath 3.1 F&O
 * fn:format-number), ported line for line from jsonata 2.x so that the fast path writes exactly
 * what jsonata writes; only its error objects became `JsonataError`s and its helpers the fast
 * path's own ports (`keysOf`, `round`).
 *
 * From JSONata, © Copyright IBM Corp. 2018, under the MIT license:
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 * and associated documentation files (the "Software"), to deal in the Software without
 * restriction, including without limitation the rights to use, copy, modify, merge, publish,
 * distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 * Software is furnished to do so, subject to the following conditions: The above copyright notice
 * and this permission notice shall be included in all copies or substantial portions of the
 * Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
 * INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
 * PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR
 * ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE,
 * ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 * SOFTWARE.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, no-var */
import { JsonataError, keysOf, round } from './semantics.js';

/** What jsonata's formatNumber derives from the picture and options before it looks at the value. */
interface AnalysedPicture {
  properties: Record<string, any>;
  decimalDigitFamily: string[];
  variables: any[];
}

/**
 * Analysed pictures by picture and options (only options whose values are all strings, so that
 * the key says everything the analysis reads). jsonata analyses the picture on every call
 * ("TODO cache the result of the analysis" in its source); the analysis is a pure function of
 * these two, and a mapping formats with a handful of pictures, so the result is kept. A picture
 * that fails analysis throws every time and is never kept. Bounded: cleared at 256 entries.
 */
const ANALYSED = new Map<string, AnalysedPicture>();
const ANALYSED_MAX = 256;

function cacheKey(picture: any, options: any): string | undefined {
  if (typeof picture !== 'string') return undefined;
  if (options === undefined) return picture;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return undefined;
  let key = picture;
  for (const name of keysOf(options)) {
    const option = options[name];
    if (typeof option !== 'string') return undefined;
    key += `\u0000${name}\u0000${option}`;
  }
  return key;
}

export function formatNumber(value: any, picture: any, options: any): string | undefined {
  // undefined inputs always return undefined
  if (typeof value === 'undefined') {
    return undefined;
  }

  const key = cacheKey(picture, options);
  let analysed = key === undefined ? undefined : ANALYSED.get(key);
  if (analysed === undefined) {
    analysed = analysePicture(picture, options);
    if (key !== undefined) {
      if (ANALYSED.size >= ANALYSED_MAX) ANALYSED.clear();
      ANALYSED.set(key, analysed);
    }
  }
  const { properties, decimalDigitFamily, variables } = analysed;
  return formatAnalysed(value, properties, decimalDigitFamily, variables);
}

/** jsonata's formatNumber up to its "TODO cache the result of the analysis", unchanged. */
function analysePicture(picture: any, options: any): AnalysedPicture {
  var defaults: Record<string, any> = {
    'decimal-separator': '.',
    'grouping-separator': ',',
    'exponent-separator': 'e',
    infinity: 'Infinity',
    'minus-sign': '-',
    NaN: 'NaN',
    percent: '%',
    'per-mille': '\u2030',
    'zero-digit': '0',
    digit: '#',
    'pattern-separator': ';',
  };

  // if `options` is specified, then its entries override defaults
  var properties = defaults;
  if (typeof options !== 'undefined') {
    keysOf(options).forEach(function (key: string) {
      properties[key] = options[key];
    });
  }

  var decimalDigitFamily: string[] = [];
  var zeroCharCode = properties['zero-digit'].charCodeAt(0);
  for (var ii = zeroCharCode; ii < zeroCharCode + 10; ii++) {
    decimalDigitFamily.push(String.fromCharCode(ii));
  }

  var activeChars = decimalDigitFamily.concat([
    properties['decimal-separator'],
    properties['exponent-separator'],
    properties['grouping-separator'],
    properties.digit,
    properties['pattern-separator'],
  ]);

  var subPictures = picture.split(properties['pattern-separator']);

  if (subPictures.length > 2) {
    throw new JsonataError('D3080');
  }

  var splitParts = function (subpicture: any) {
    var prefix = (function () {
      var ch;
      for (var ii = 0; ii < subpicture.length; ii++) {
        ch = subpicture.charAt(ii);
        if (activeChars.indexOf(ch) !== -1 && ch !== properties['exponent-separator']) {
          return subpicture.substring(0, ii);
        }
      }
      return '';
    })();
    var suffix = (function () {
      var ch;
      for (var ii = subpicture.length - 1; ii >= 0; ii--) {
        ch = subpicture.charAt(ii);
        if (activeChars.indexOf(ch) !== -1 && ch !== properties['exponent-separator']) {
          return subpicture.substring(ii + 1);
        }
      }
      return '';
    })();
    var activePart = subpicture.substring(prefix.length, subpicture.length - suffix.length);
    var mantissaPart, exponentPart, integerPart, fractionalPart;
    var exponentPosition = subpicture.indexOf(properties['exponent-separator'], prefix.length);
    if (exponentPosition === -1 || exponentPosition > subpicture.length - suffix.length) {
      mantissaPart = activePart;
      exponentPart = undefined;
    } else {
      mantissaPart = activePart.substring(0, exponentPosition);
      exponentPart = activePart.substring(exponentPosition + 1);
    }
    var decimalPosition = mantissaPart.indexOf(properties['decimal-separator']);
    if (decimalPosition === -1) {
      integerPart = mantissaPart;
      fractionalPart = suffix;
    } else {
      integerPart = mantissaPart.substring(0, decimalPosition);
      fractionalPart = mantissaPart.substring(decimalPosition + 1);
    }
    return {
      prefix: prefix,
      suffix: suffix,
      activePart: activePart,
      mantissaPart: mantissaPart,
      exponentPart: exponentPart,
      integerPart: integerPart,
      fractionalPart: fractionalPart,
      subpicture: subpicture,
    };
  };

  // validate the picture string, F&O 4.7.3
  var validate = function (parts: any) {
    var error;
    var ii;
    var subpicture = parts.subpicture;
    var decimalPos = subpicture.indexOf(properties['decimal-separator']);
    if (decimalPos !== subpicture.lastIndexOf(properties['decimal-separator'])) {
      error = 'D3081';
    }
    if (subpicture.indexOf(properties.percent) !== subpicture.lastIndexOf(properties.percent)) {
      error = 'D3082';
    }
    if (subpicture.indexOf(properties['per-mille']) !== subpicture.lastIndexOf(properties['per-mille'])) {
      error = 'D3083';
    }
    if (subpicture.indexOf(properties.percent) !== -1 && subpicture.indexOf(properties['per-mille']) !== -1) {
      error = 'D3084';
    }
    var valid = false;
    for (ii = 0; ii < parts.mantissaPart.length; ii++) {
      var ch = parts.mantissaPart.charAt(ii);
      if (decimalDigitFamily.indexOf(ch) !== -1 || ch === properties.digit) {
        valid = true;
        break;
      }
    }
    if (!valid) {
      error = 'D3085';
    }
    var charTypes = parts.activePart
      .split('')
      .map(function (char: any) {
        return activeChars.indexOf(char) === -1 ? 'p' : 'a';
      })
      .join('');
    if (charTypes.indexOf('p') !== -1) {
      error = 'D3086';
    }
    if (decimalPos !== -1) {
      if (
        subpicture.charAt(decimalPos - 1) === properties['grouping-separator'] ||
        subpicture.charAt(decimalPos + 1) === properties['grouping-separator']
      ) {
        error = 'D3087';
      }
    } else if (parts.integerPart.charAt(parts.integerPart.length - 1) === properties['grouping-separator']) {
      error = 'D3088';
    }
    if (subpicture.indexOf(properties['grouping-separator'] + properties['grouping-separator']) !== -1) {
      error = 'D3089';
    }
    var optionalDigitPos = parts.integerPart.indexOf(properties.digit);
    if (
      optionalDigitPos !== -1 &&
      parts.integerPart
        .substring(0, optionalDigitPos)
        .split('')
        .filter(function (char: any) {
          return decimalDigitFamily.indexOf(char) > -1;
        }).length > 0
    ) {
      error = 'D3090';
    }
    optionalDigitPos = parts.fractionalPart.lastIndexOf(properties.digit);
    if (
      optionalDigitPos !== -1 &&
      parts.fractionalPart
        .substring(optionalDigitPos)
        .split('')
        .filter(function (char: any) {
          return decimalDigitFamily.indexOf(char) > -1;
        }).length > 0
    ) {
      error = 'D3091';
    }
    var exponentExists = typeof parts.exponentPart === 'string';
    if (
      exponentExists &&
      parts.exponentPart.length > 0 &&
      (subpicture.indexOf(properties.percent) !== -1 || subpicture.indexOf(properties['per-mille']) !== -1)
    ) {
      error = 'D3092';
    }
    if (
      exponentExists &&
      (parts.exponentPart.length === 0 ||
        parts.exponentPart.split('').filter(function (char: any) {
          return decimalDigitFamily.indexOf(char) === -1;
        }).length > 0)
    ) {
      error = 'D3093';
    }
    if (error) {
      throw new JsonataError(error);
    }
  };

  // analyse the picture string, F&O 4.7.4
  var analyse = function (parts: any) {
    var getGroupingPositions = function (part: any, toLeft?: any) {
      var positions = [];
      var groupingPosition = part.indexOf(properties['grouping-separator']);
      while (groupingPosition !== -1) {
        var charsToTheRight = (toLeft ? part.substring(0, groupingPosition) : part.substring(groupingPosition)).split('').filter(function (
          char: any,
        ) {
          return decimalDigitFamily.indexOf(char) !== -1 || char === properties.digit;
        }).length;
        positions.push(charsToTheRight);
        groupingPosition = parts.integerPart.indexOf(properties['grouping-separator'], groupingPosition + 1);
      }
      return positions;
    };
    var integerPartGroupingPositions = getGroupingPositions(parts.integerPart);
    var regular = function (indexes: any) {
      // are the grouping positions regular? i.e. same interval between each of them
      if (indexes.length === 0) {
        return 0;
      }
      var gcd = function (a: any, b: any): any {
        return b === 0 ? a : gcd(b, a % b);
      };
      // find the greatest common divisor of all the positions
      var factor = indexes.reduce(gcd);
      // is every position separated by this divisor? If so, it's regular
      for (var index = 1; index <= indexes.length; index++) {
        if (indexes.indexOf(index * factor) === -1) {
          return 0;
        }
      }
      return factor;
    };

    var regularGrouping = regular(integerPartGroupingPositions);
    var fractionalPartGroupingPositions = getGroupingPositions(parts.fractionalPart, true);

    var minimumIntegerPartSize = parts.integerPart.split('').filter(function (char: any) {
      return decimalDigitFamily.indexOf(char) !== -1;
    }).length;
    var scalingFactor = minimumIntegerPartSize;

    var fractionalPartArray = parts.fractionalPart.split('');
    var minimumFactionalPartSize = fractionalPartArray.filter(function (char: any) {
      return decimalDigitFamily.indexOf(char) !== -1;
    }).length;
    var maximumFactionalPartSize = fractionalPartArray.filter(function (char: any) {
      return decimalDigitFamily.indexOf(char) !== -1 || char === properties.digit;
    }).length;
    var exponentPresent = typeof parts.exponentPart === 'string';
    if (minimumIntegerPartSize === 0 && maximumFactionalPartSize === 0) {
      if (exponentPresent) {
        minimumFactionalPartSize = 1;
        maximumFactionalPartSize = 1;
      } else {
        minimumIntegerPartSize = 1;
      }
    }
    if (exponentPresent && minimumIntegerPartSize === 0 && parts.integerPart.indexOf(properties.digit) !== -1) {
      minimumIntegerPartSize = 1;
    }
    if (minimumIntegerPartSize === 0 && minimumFactionalPartSize === 0) {
      minimumFactionalPartSize = 1;
    }
    var minimumExponentSize = 0;
    if (exponentPresent) {
      minimumExponentSize = parts.exponentPart.split('').filter(function (char: any) {
        return decimalDigitFamily.indexOf(char) !== -1;
      }).length;
    }

    return {
      integerPartGroupingPositions: integerPartGroupingPositions,
      regularGrouping: regularGrouping,
      minimumIntegerPartSize: minimumIntegerPartSize,
      scalingFactor: scalingFactor,
      prefix: parts.prefix,
      fractionalPartGroupingPositions: fractionalPartGroupingPositions,
      minimumFactionalPartSize: minimumFactionalPartSize,
      maximumFactionalPartSize: maximumFactionalPartSize,
      minimumExponentSize: minimumExponentSize,
      suffix: parts.suffix,
      picture: parts.subpicture,
    };
  };

  var parts = subPictures.map(splitParts);
  parts.forEach(validate);

  var variables = parts.map(analyse);

  var minus_sign = properties['minus-sign'];

  if (variables.length === 1) {
    variables.push(JSON.parse(JSON.stringify(variables[0])));
    variables[1].prefix = minus_sign + variables[1].prefix;
  }

  return { properties, decimalDigitFamily, variables };
}

/** jsonata's formatNumber from its "TODO cache the result of the analysis" on, unchanged. */
function formatAnalysed(value: any, properties: Record<string, any>, decimalDigitFamily: string[], variables: any[]): string {
  var minus_sign = properties['minus-sign'];
  var zero_digit = properties['zero-digit'];
  var decimal_separator = properties['decimal-separator'];
  var grouping_separator = properties['grouping-separator'];

  // format the number
  // bullet 1: TODO: NaN - not sure we'd ever get this in JSON
  var pic;
  // bullet 2:
  if (value >= 0) {
    pic = variables[0];
  } else {
    pic = variables[1];
  }
  var adjustedNumber;
  // bullet 3:
  if (pic.picture.indexOf(properties.percent) !== -1) {
    adjustedNumber = value * 100;
  } else if (pic.picture.indexOf(properties['per-mille']) !== -1) {
    adjustedNumber = value * 1000;
  } else {
    adjustedNumber = value;
  }
  // bullet 4:
  // TODO: infinity - not sure we'd ever get this in JSON
  // bullet 5:
  var mantissa, exponent;
  if (pic.minimumExponentSize === 0) {
    mantissa = adjustedNumber;
  } else {
    // mantissa * 10^exponent = adjustedNumber
    var maxMantissa = Math.pow(10, pic.scalingFactor);
    var minMantissa = Math.pow(10, pic.scalingFactor - 1);
    mantissa = adjustedNumber;
    exponent = 0;
    // Compare magnitudes; previously `mantissa < minMantissa` was
    // true for every negative mantissa and `0 * 10 === 0` never
    // crossed the threshold, producing an infinite loop on zero
    // and negative inputs (#785). For zero the desired exponent is
    // simply zero — the XPath F&O Bullet 5 says "if N is zero, set
    // M to zero and E to zero".
    if (mantissa !== 0) {
      while (Math.abs(mantissa) < minMantissa) {
        mantissa *= 10;
        exponent -= 1;
      }
      while (Math.abs(mantissa) > maxMantissa) {
        mantissa /= 10;
        exponent += 1;
      }
    }
  }
  // bullet 6:
  var roundedNumber = round(mantissa, pic.maximumFactionalPartSize);
  // bullet 7:
  var makeString = function (value: any, dp: any) {
    var str = Math.abs(value).toFixed(dp);
    if (zero_digit !== '0') {
      str = str
        .split('')
        .map(function (digit: any) {
          if (digit >= '0' && digit <= '9') {
            return decimalDigitFamily[digit.charCodeAt(0) - 48];
          } else {
            return digit;
          }
        })
        .join('');
    }
    return str;
  };
  var stringValue = makeString(roundedNumber, pic.maximumFactionalPartSize);
  var decimalPos = stringValue.indexOf('.');
  if (decimalPos === -1) {
    stringValue = stringValue + decimal_separator;
  } else {
    stringValue = stringValue.replace('.', decimal_separator);
  }
  while (stringValue.charAt(0) === zero_digit) {
    stringValue = stringValue.substring(1);
  }
  while (stringValue.charAt(stringValue.length - 1) === zero_digit) {
    stringValue = stringValue.substring(0, stringValue.length - 1);
  }
  // bullets 8 & 9:
  decimalPos = stringValue.indexOf(decimal_separator);
  var padLeft = pic.minimumIntegerPartSize - decimalPos;
  var padRight = pic.minimumFactionalPartSize - (stringValue.length - decimalPos - 1);
  stringValue = (padLeft > 0 ? new Array(padLeft + 1).join(zero_digit) : '') + stringValue;
  stringValue = stringValue + (padRight > 0 ? new Array(padRight + 1).join(zero_digit) : '');
  decimalPos = stringValue.indexOf(decimal_separator);
  // bullet 10:
  if (pic.regularGrouping > 0) {
    var groupCount = Math.floor((decimalPos - 1) / pic.regularGrouping);
    for (var group = 1; group <= groupCount; group++) {
      stringValue = [
        stringValue.slice(0, decimalPos - group * pic.regularGrouping),
        grouping_separator,
        stringValue.slice(decimalPos - group * pic.regularGrouping),
      ].join('');
    }
  } else {
    pic.integerPartGroupingPositions.forEach(function (pos: any) {
      stringValue = [stringValue.slice(0, decimalPos - pos), grouping_separator, stringValue.slice(decimalPos - pos)].join('');
      decimalPos++;
    });
  }
  // bullet 11:
  decimalPos = stringValue.indexOf(decimal_separator);
  pic.fractionalPartGroupingPositions.forEach(function (pos: any) {
    stringValue = [stringValue.slice(0, pos + decimalPos + 1), grouping_separator, stringValue.slice(pos + decimalPos + 1)].join('');
  });
  // bullet 12:
  decimalPos = stringValue.indexOf(decimal_separator);
  if (pic.picture.indexOf(decimal_separator) === -1 || decimalPos === stringValue.length - 1) {
    stringValue = stringValue.substring(0, stringValue.length - 1);
  }
  // bullet 13:
  if (typeof exponent !== 'undefined') {
    var stringExponent = makeString(exponent, 0);
    padLeft = pic.minimumExponentSize - stringExponent.length;
    if (padLeft > 0) {
      stringExponent = new Array(padLeft + 1).join(zero_digit) + stringExponent;
    }
    stringValue = stringValue + properties['exponent-separator'] + (exponent < 0 ? minus_sign : '') + stringExponent;
  }
  // bullet 14:
  stringValue = pic.prefix + stringValue + pic.suffix;
  return stringValue;
}
