import { LibconfigParseError, parseLibconfig } from '../fixtures/libconfig';

describe('libconfig validator', () => {
  test('parses groups, lists, numbers, booleans and strings', () => {
    const parsed = parseLibconfig([
      'datadir="/var/lib/proxysql"',
      'admin_variables = { mysql_ifaces="127.0.0.1:6032"; restapi_enabled=true }',
      'mysql_servers = ( { address="w"; port=3306; hostgroup=10; weight=1000 } )',
    ].join('\n'));
    expect(parsed).toEqual({
      datadir: '/var/lib/proxysql',
      admin_variables: { mysql_ifaces: '127.0.0.1:6032', restapi_enabled: true },
      mysql_servers: [{ address: 'w', port: 3306, hostgroup: 10, weight: 1000 }],
    });
  });

  test('rejects a malformed file with the line of the error', () => {
    const text = ['a = 1;', 'b = "ok";', 'c = { d = 2 ', 'e = 3;'].join('\n');
    let error: unknown;
    try {
      parseLibconfig(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LibconfigParseError);
    expect((error as LibconfigParseError).line).toBe(4);
    expect((error as LibconfigParseError).reason).toMatch(/syntax error/);
  });

  test('a setting without a value is rejected at its line', () => {
    expect(() => parseLibconfig('a = 1;\nb = ;\nc = 2;\n')).toThrow(/at line 2: syntax error/);
  });

  test('a raw newline inside a string is part of the string (libconfig strings may span lines)', () => {
    expect(parseLibconfig('s = "one\ntwo";').s).toBe('one\ntwo');
  });

  test('a string with " and \\ round-trips through the parser when escaped for libconfig', () => {
    const secret = 'a"b\\c\\"d$`\' #;: é';
    const escaped = secret.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    expect(parseLibconfig(`s = "${escaped}";`).s).toBe(secret);
  });

  test('an unescaped quote is not read as the same string', () => {
    expect(() => parseLibconfig('s = "a"b";')).toThrow(LibconfigParseError);
  });
});
