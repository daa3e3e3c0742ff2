/**
 * Secrets Manager's alternating-users rotation for MySQL gives the second user the first one's name
 * with this suffix (and takes it off again at the next rotation).
 */
export const CLONE_SUFFIX = '_clone';
/** MySQL's longest user name: with the suffix, the first user's name must leave room for it. */
export const MYSQL_MAX_USERNAME = 32;
